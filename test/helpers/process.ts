import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
/** The Node 24 the project runs on (the machine's `node` may be older). */
export const NODE = process.execPath

export interface ServerProcess {
  child: ChildProcess
  port: number
  /** Port of the dedicated metrics server, when one was started. */
  metricsPort?: number
  /** Every JSON log line so far. */
  lines: Record<string, unknown>[]
  stderr: () => string
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>
  /** Sends SIGKILL if it still runs and waits for the exit; safe to call twice. */
  stop: () => Promise<void>
}

export interface StartOptions {
  /** Extra environment; PORT=0 and HOST=127.0.0.1 are set unless given. */
  env?: Record<string, string>
  args?: string[]
  /** Entry script relative to the repository root. Default `src/runtimes/node.ts`. */
  script?: string
  /** Working directory. Default the repository root. */
  cwd?: string
  /** The whole command line instead of Node 24 with `script` and `args`. */
  argv?: string[]
  /** Bound on waiting for the 'listening' line. Default 15 s. */
  timeoutMs?: number
}

/** Spawns the server and waits for its `listening` log line, which carries the bound port. */
export async function startServerProcess(options: StartOptions = {}): Promise<ServerProcess> {
  const child = runProcess(options)
  const lines: Record<string, unknown>[] = []
  let err = ''
  let buffered = ''
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk))
  const exited = exitOf(child)
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }

  const listening = new Promise<{ port: number; metricsPort?: number }>((resolve, reject) => {
    let metricsPort: number | undefined
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk
      let newline: number
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const text = buffered.slice(0, newline)
        buffered = buffered.slice(newline + 1)
        let line: Record<string, unknown>
        try {
          line = JSON.parse(text)
        } catch {
          continue
        }
        lines.push(line)
        if (line.msg === 'metrics listening') metricsPort = line.port as number
        if (line.msg === 'listening') resolve({ port: line.port as number, metricsPort })
      }
    })
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${err}`)))
  })
  const timeoutMs = options.timeoutMs ?? 15_000
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no 'listening' line within ${timeoutMs} ms:\n${err}`)), timeoutMs)
  })
  try {
    const { port, metricsPort } = await Promise.race([listening, timedOut])
    return { child, port, metricsPort, lines, stderr: () => err, exited, stop }
  } catch (error) {
    await stop()
    throw error
  } finally {
    clearTimeout(timer)
  }
}

/** Runs the entrypoint to its exit (for start-up failures); killed after `timeoutMs`. */
export async function runToExit(options: StartOptions = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const child = runProcess(options)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk))
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000)
  try {
    const code = await exitOf(child)
    return { code, stdout, stderr }
  } finally {
    clearTimeout(timer)
  }
}

function runProcess(options: StartOptions): ChildProcess {
  const [file, ...args] = options.argv ?? [NODE, options.script ?? 'src/runtimes/node.ts', ...(options.args ?? [])]
  return spawn(file, args, {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

function exitOf(child: ChildProcess): Promise<number | string> {
  return once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string)
}
