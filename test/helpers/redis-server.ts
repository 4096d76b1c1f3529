import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import { freePort } from './runtimes.ts'

/** Debian's redis-server (`.ci/run` installs it). The tests need it: a missing one fails, never skips. */
export const REDIS_SERVER = '/usr/bin/redis-server'

export interface RedisServer {
  url: string
  port: number
  /** SIGKILLs the server (a crash: no goodbye to clients). */
  kill(): Promise<void>
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>
  /** Runs one command with redis-cli-free RESP over a plain socket; for assertions that must not use the app's client. */
  command(...args: string[]): Promise<unknown>
  stop(): Promise<void>
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()))
}

/** A private redis-server on a free loopback port, without persistence, stopped by `stop()`; `extraArgs` go to its command line. */
export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} is missing: apt-get install redis-server (listed in .ci/run)`)
  const port = await freePort()
  let child: ChildProcess | undefined

  async function launch() {
    child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning', ...extraArgs], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    const deadline = Date.now() + 10_000
    for (;;) {
      try {
        if ((await command('PING')) === 'PONG') return
      } catch {
        // Not listening yet.
      }
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  function command(...args: string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1')
      let data = ''
      const timer = setTimeout(() => socket.destroy(new Error('redis command timed out')), 5_000)
      socket.on('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
      socket.on('data', (chunk) => {
        data += chunk
        const parsed = parseReply(data)
        if (!parsed) return
        clearTimeout(timer)
        socket.end()
        if (parsed.value instanceof Error) reject(parsed.value)
        else resolve(parsed.value)
      })
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`)
    })
  }

  await launch()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    command,
    async kill() {
      child?.kill('SIGKILL')
      if (child) await exited(child)
    },
    restart: launch,
    async stop() {
      child?.kill('SIGKILL')
      if (child) await exited(child)
    },
  }
}

/** A whole RESP2 reply at the start of `text`, or undefined while incomplete. */
function parseReply(text: string, at = 0): { value: unknown; end: number } | undefined {
  const lineEnd = text.indexOf('\r\n', at)
  if (lineEnd < 0) return undefined
  const kind = text[at]
  const line = text.slice(at + 1, lineEnd)
  if (kind === '+') return { value: line, end: lineEnd + 2 }
  if (kind === '-') return { value: new Error(line), end: lineEnd + 2 }
  if (kind === ':') return { value: Number(line), end: lineEnd + 2 }
  if (kind === '$') {
    const length = Number(line)
    if (length < 0) return { value: null, end: lineEnd + 2 }
    const start = lineEnd + 2
    const bytes = Buffer.from(text.slice(start))
    if (bytes.length < length + 2) return undefined
    const value = bytes.subarray(0, length).toString()
    return { value, end: start + value.length + 2 }
  }
  if (kind === '*') {
    const count = Number(line)
    if (count < 0) return { value: null, end: lineEnd + 2 }
    const items: unknown[] = []
    let end = lineEnd + 2
    for (let i = 0; i < count; i++) {
      const item = parseReply(text, end)
      if (!item) return undefined
      items.push(item.value)
      end = item.end
    }
    return { value: items, end }
  }
  throw new Error(`unexpected RESP reply: ${text.slice(at, at + 40)}`)
}

/** Every key in the server (SCAN, not KEYS) with its PTTL. */
export async function keysWithTtl(redis: RedisServer): Promise<{ key: string; pttl: number }[]> {
  const found: { key: string; pttl: number }[] = []
  let cursor = '0'
  do {
    const [next, keys] = (await redis.command('SCAN', cursor, 'COUNT', '1000')) as [string, string[]]
    cursor = next
    for (const key of keys) found.push({ key, pttl: (await redis.command('PTTL', key)) as number })
  } while (cursor !== '0')
  return found
}
