/**
 * SSE through the Redis job log against the in-process log, in one run (issue 14):
 *   memory — one server, in-memory jobs: the client POSTs /chat/stream and reads it to the end;
 *   owner  — one server with REDIS_URL: the same, every event also mirrored into the Redis stream;
 *   remote — two servers with REDIS_URL: the client starts the generation on A (and hangs up), then
 *            reads it on B (`GET /conversations/:id/stream`), replayed and followed from the stream.
 * Every variant runs the whole app with the built-in model at its shipped pacing (15 ms per word,
 * `--chunk-delay` to change it), N concurrent streams of M words each; every stream must deliver the
 * whole text and `done`. Reports server CPU µs per delivered delta (user+system of the app
 * processes; redis-server's own from INFO cpu), and Redis commands per generation (INFO
 * commandstats, reset before each measured batch).
 *
 *   node_modules/.bin/node bench/redis-sse.ts [--streams 200] [--events 100] [--rounds 2] [--chunk-delay 15ms]
 *
 * Starts its own redis-server (/usr/bin/redis-server) on a free loopback port. Not a test.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { openSync } from 'node:fs'
import { request, Agent } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { createAdaptorServer } from '@hono/node-server'
import pino from 'pino'
import { Registry } from 'prom-client'
import { startRedis } from '../test/helpers/redis-server.ts'
import { KEY, rotated } from './harness.ts'

const VARIANTS = ['memory', 'owner', 'remote'] as const
type Variant = (typeof VARIANTS)[number]

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '200' },
    events: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '1' },
    'chunk-delay': { type: 'string', default: '15ms' },
    serve: { type: 'string' },
    redis: { type: 'string' },
  },
})
const STREAMS = Number(values.streams)
const EVENTS = Number(values.events)
// The built-in model quotes the message back, one delta per word, with a fixed sentence around it.
const MESSAGE = Array.from({ length: EVENTS }, () => 'w').join(' ')

// ---- servers (child processes) ---------------------------------------------------------------------

async function serve(redisUrl: string | undefined) {
  const { loadConfig } = await import('../src/config/index.ts')
  const { buildDeps } = await import('../src/deps.ts')
  const { createApp } = await import('../src/app.ts')
  const { createMemoryStores } = await import('../src/storage/memory/index.ts')
  const { EventBus } = await import('../src/events/index.ts')
  const { systemClock } = await import('../src/kernel/clock.ts')
  const env: Record<string, string> = { API_KEYS: `bench:${KEY}`, RATE_LIMIT_ENABLED: 'false', AI_BUILTIN_CHUNK_DELAY: values['chunk-delay']! }
  if (redisUrl) env.REDIS_URL = redisUrl
  const config = await loadConfig({ env })
  const logger = pino({ level: 'info' }, pino.destination({ dest: openSync('/dev/null', 'w'), sync: false }))
  const metrics = new Registry()
  const events = new EventBus<any>()
  let extra = {}
  if (redisUrl) {
    const { createRedisAdapters, redisPortFromConfig, whenConnected } = await import('../src/redis/index.ts')
    const { redisDeps } = await import('../src/runtimes/redis.ts')
    const port = redisPortFromConfig(config, logger)
    await whenConnected(port, 5_000, systemClock)
    extra = redisDeps(createRedisAdapters({ config, port, events, clock: systemClock, logger, registry: metrics }))
  }
  const deps = buildDeps({ config, logger, metrics, events, stores: createMemoryStores({ clock: systemClock }), ...extra })
  deps.lifecycle.markReady()
  const server = createAdaptorServer({ fetch: createApp(deps).fetch })
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => process.send!({ port: (server.address() as AddressInfo).port }))
  process.on('message', (message) => {
    if (message === 'usage') {
      const cpu = process.cpuUsage()
      process.send!({ cpuMicros: cpu.user + cpu.system })
    } else if (message === 'exit') process.exit(0)
  })
}

// ---- client (this process) -------------------------------------------------------------------------

function startServer(redisUrl?: string): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(new URL(import.meta.url).pathname, ['--serve', '1', ...(redisUrl ? ['--redis', redisUrl] : []), '--chunk-delay', values['chunk-delay']!], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return new Promise((resolve) => child.once('message', (m) => resolve({ child, port: (m as { port: number }).port })))
}

const ask = (child: ChildProcess) =>
  new Promise<number>((resolve) => {
    child.once('message', (reply) => resolve((reply as { cpuMicros: number }).cpuMicros))
    child.send('usage')
  })

/** One HTTP exchange; resolves with the body, or at the headers when `hangUp`. */
function exchange(agent: Agent, port: number, method: string, path: string, body?: string, hangUp = false): Promise<{ text: string; conversationId: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { authorization: `Bearer ${KEY}` }
    if (body) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    const req = request({ agent, host: '127.0.0.1', port, method, path, headers }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`${method} ${path}: HTTP ${res.statusCode}`))
      const conversationId = String(res.headers['x-conversation-id'])
      if (hangUp) {
        res.destroy()
        return resolve({ text: '', conversationId })
      }
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => resolve({ text, conversationId }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** The delivered text of an SSE body, checked to end with `done`. */
function delivered(text: string): string {
  const frames = text.split('\n\n').filter((frame) => frame.startsWith('event: '))
  if (!frames.at(-1)?.startsWith('event: done')) throw new Error('a stream did not end with done')
  return frames.filter((f) => f.startsWith('event: message')).map((f) => JSON.parse(/^data: (.*)$/m.exec(f)![1]).delta).join('')
}

async function oneStream(agent: Agent, variant: Variant, ports: number[]): Promise<string> {
  const body = JSON.stringify({ message: MESSAGE })
  if (variant !== 'remote') return delivered((await exchange(agent, ports[0], 'POST', '/api/v1/chat/stream', body)).text)
  const { conversationId } = await exchange(agent, ports[0], 'POST', '/api/v1/chat/stream', body, true)
  return delivered((await exchange(agent, ports[1], 'GET', `/api/v1/conversations/${conversationId}/stream`)).text)
}

interface Result {
  variant: Variant
  deltas: number
  appCpuPerDelta: number
  redisCpuPerDelta: number
  commandsPerGeneration: number
  entriesPerGeneration: number
}

type Redis = Awaited<ReturnType<typeof startRedis>>

async function redisCpuMicros(redis: Redis): Promise<number> {
  const info = String(await redis.command('INFO', 'cpu'))
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)![1])
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6
}

async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const info = String(await redis.command('INFO', 'commandstats'))
  return new Map([...info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)].map((m) => [m[1], Number(m[2])]))
}

async function measure(variant: Variant, redis: Redis, expected: string, words: number): Promise<Result> {
  const servers = await Promise.all(variant === 'remote' ? [startServer(redis.url), startServer(redis.url)] : [startServer(variant === 'owner' ? redis.url : undefined)])
  const ports = servers.map((s) => s.port)
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity })
  try {
    const batch = async () => {
      const texts = await Promise.all(Array.from({ length: STREAMS }, () => oneStream(agent, variant, ports)))
      const whole = texts.filter((t) => t === expected).length
      if (whole !== STREAMS) throw new Error(`${variant}: ${whole}/${STREAMS} streams delivered the whole text`)
    }
    for (let i = 0; i < Number(values.warmup); i++) await batch()
    await redis.command('CONFIG', 'RESETSTAT')
    const before = await Promise.all(servers.map((s) => ask(s.child)))
    const redisBefore = await redisCpuMicros(redis)
    await batch()
    const after = await Promise.all(servers.map((s) => ask(s.child)))
    const redisAfter = await redisCpuMicros(redis)
    const calls = await commandCalls(redis)
    let commands = 0
    for (const [name, count] of calls) if (!['info', 'config|resetstat', 'config'].includes(name)) commands += count
    const deltas = STREAMS * words
    return {
      variant,
      deltas,
      appCpuPerDelta: after.reduce((sum, cpu, i) => sum + cpu - before[i], 0) / deltas,
      redisCpuPerDelta: variant === 'memory' ? 0 : (redisAfter - redisBefore) / deltas,
      commandsPerGeneration: commands / STREAMS,
      // INFO commandstats also counts the commands a script runs (HMGET, XADD, PEXPIRE, PUBLISH):
      // the script calls are the round trips that write.
      entriesPerGeneration: ((calls.get('evalsha') ?? 0) + (calls.get('eval') ?? 0)) / STREAMS,
    }
  } finally {
    agent.destroy()
    for (const { child } of servers) child.send('exit')
  }
}

async function main() {
  const redis = await startRedis()
  try {
    // What the built-in model says to MESSAGE, read once through the in-memory variant's server.
    const probe = await startServer()
    const agent = new Agent()
    const expected = delivered((await exchange(agent, probe.port, 'POST', '/api/v1/chat/stream', JSON.stringify({ message: MESSAGE }))).text)
    agent.destroy()
    probe.child.send('exit')
    const words = expected.split(' ').length
    console.log(`Redis SSE bench: ${STREAMS} concurrent streams of a ${words}-word reply (${values['chunk-delay']} per word), node ${process.version}, ${values.rounds} round(s)`)
    const all: Result[] = []
    for (let round = 1; round <= Number(values.rounds); round++) {
      for (const variant of rotated([...VARIANTS], round)) {
        const r = await measure(variant, redis, expected, words)
        all.push(r)
        console.log(
          `round ${round} ${variant.padEnd(7)} app CPU ${r.appCpuPerDelta.toFixed(2)} µs/delta, redis-server CPU ${r.redisCpuPerDelta.toFixed(2)} µs/delta, ` +
            `${r.commandsPerGeneration.toFixed(1)} Redis commands/generation, scripts' inner ones included (${r.entriesPerGeneration.toFixed(1)} script calls)`,
        )
      }
    }
    const best = (variant: Variant) => Math.min(...all.filter((r) => r.variant === variant).map((r) => r.appCpuPerDelta))
    console.log(`\nbest app CPU per delta relative to memory: owner ${(best('owner') / best('memory')).toFixed(2)}×, remote ${(best('remote') / best('memory')).toFixed(2)}× (two processes)`)
  } finally {
    await redis.stop()
  }
}

if (values.serve) await serve(values.redis)
else await main()
