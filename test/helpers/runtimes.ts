import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

/** The repository root (where package.json is). */
export const ROOT = resolve(import.meta.dirname, '../..')
const BIN = join(ROOT, 'node_modules/.bin')

/** A runtime the server can be started on, and how. */
export interface RuntimeSpec {
  name: 'node' | 'bun' | 'deno' | 'workerd'
  /** Binaries under node_modules/.bin this runtime needs; a missing one fails the test. */
  binaries: string[]
  /** The command line serving the app on `port` with the settings in `env`. */
  command(port: number, env: Record<string, string>, scratch: string): { file: string; args: string[] }
  /** Whether the runtime serves Prometheus metrics at /metrics. */
  metrics: boolean
  /** How a bad setting shows: a process exits 2 naming it; a Worker cannot refuse to start, so it answers 500. */
  onBadConfig: 'exit 2' | '500 problem'
  /** Whether a request may act on work another request started (`E2ETarget.crossRequestIo` says why not on workerd). */
  crossRequestIo: boolean
}

/**
 * A package.json script's command line as argv, its binary looked up in node_modules/.bin as
 * `npm run` does. The README gives these scripts as the start commands, so the runner starts what a
 * user starts; only plain words are allowed (no shell syntax to reinterpret).
 */
export function scriptArgv(name: string): { file: string; args: string[] } {
  const line = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>)[name]
  if (!line) throw new Error(`package.json has no "${name}" script`)
  if (/[^\w\s./:=@-]/.test(line)) throw new Error(`"${name}" is not a plain command line: ${line}`)
  const [binary, ...args] = line.trim().split(/\s+/)
  return { file: existsSync(join(BIN, binary)) ? join(BIN, binary) : binary, args }
}

/** Node (the built bundle), Bun, Deno and workerd (through `wrangler dev`), each with the npm script a user starts it with. */
export const RUNTIMES: RuntimeSpec[] = [
  {
    name: 'node',
    binaries: ['node', 'esbuild'],
    // `npm run start:dist`: what the Docker image runs, after `npm run build`.
    command: () => scriptArgv('start:dist'),
    metrics: true,
    onBadConfig: 'exit 2',
    crossRequestIo: true,
  },
  {
    name: 'bun',
    binaries: ['bun'],
    command: () => scriptArgv('start:bun'),
    metrics: true,
    onBadConfig: 'exit 2',
    crossRequestIo: true,
  },
  {
    name: 'deno',
    binaries: ['deno'],
    command: () => scriptArgv('start:deno'),
    metrics: true,
    onBadConfig: 'exit 2',
    crossRequestIo: true,
  },
  {
    name: 'workerd',
    binaries: ['node', 'wrangler'],
    // `npm run start:workers` on the given port. Settings reach a Worker as vars, not as a process
    // environment. The inspector and the local state get their own places, so parallel runs never share them.
    command: (port, env, scratch) => {
      const { file, args } = scriptArgv('start:workers')
      return {
        file,
        args: [
          ...args, '--port', String(port), '--inspector-port', String(port + 1), '--persist-to', join(scratch, 'state'),
          '--show-interactive-dev-session=false',
          ...Object.entries(env).flatMap(([name, value]) => ['--var', `${name}:${value}`]),
        ],
      }
    },
    metrics: true,
    onBadConfig: '500 problem',
    // workerd binds streams, sockets and abort signals to the request that created them, even within
    // one isolate: a job cannot outlive or be stopped by another request, nor the hub write to another
    // request's socket (it would take a Durable Object to hold them).
    crossRequestIo: false,
  },
]

/** Fails (never skips) when a runtime's binary is not installed. */
export function assertInstalled(spec: RuntimeSpec): void {
  for (const binary of spec.binaries) {
    if (!existsSync(join(BIN, binary))) {
      throw new Error(`${spec.name}: node_modules/.bin/${binary} is missing; run npm ci (it is a devDependency)`)
    }
  }
}

/**
 * A loopback port nobody listens on right now, with the one after it (wrangler's inspector). The
 * candidates lie below Linux's default ephemeral range (32768-60999): on a busy machine that range is
 * full of client sockets and TIME_WAIT entries, so a pair there is often half taken, and an outgoing
 * connection could grab the port between this check and the server's bind.
 */
export async function freePort(): Promise<number> {
  let last: unknown
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    try {
      await listenAndClose(port)
      await listenAndClose(port + 1)
      return port
    } catch (error) {
      last = error
    }
  }
  throw new Error(`no free loopback port pair found (last: ${(last as Error)?.message})`)
}

function listenAndClose(port: number): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as { port: number }
      server.close(() => resolvePort(bound))
    })
  })
}

/** Runs `npm run <script>`'s command line with node_modules/.bin first on PATH, as npm would. */
export function runScript(script: string, replace: [string, string][] = []): Promise<{ code: number; output: string }> {
  const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>
  let line = scripts[script]
  if (!line) throw new Error(`package.json has no "${script}" script`)
  for (const [from, to] of replace) line = line.replaceAll(from, to)
  const child = spawn(line, { cwd: ROOT, shell: true, env: { ...process.env, PATH: `${BIN}:${process.env.PATH}` } })
  return new Promise((resolveRun, reject) => {
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolveRun({ code: code ?? -1, output })
    })
  })
}

export interface RunningServer {
  baseUrl: string
  /** The file the process writes its stdout to (its log lines), as a deployment would collect them. */
  logFile: string
  /** Everything the process printed so far (stdout, then stderr), for failure messages. */
  output(): string
  /** What it wrote to stderr. */
  errors(): string
  /** Its stdout lines that are JSON objects (pino's), in order. */
  logLines(): Record<string, any>[]
  /**
   * SIGTERMs the process group (what orchestrators send), SIGKILLs it after a grace period,
   * and resolves with the exit code (or the signal that ended it).
   */
  stop(): Promise<number | string>
}

export interface StartOptions {
  /** Settings, as environment variable names (`API_KEYS`, `RATE_LIMIT_BURST`, ...). */
  env: Record<string, string>
  /** How long to wait for /health to answer 200. Default 45 s. */
  readyTimeoutMs?: number
}

/** A spawned server process; nothing is known about its state yet. */
export interface SpawnedServer extends RunningServer {
  /** Resolves with the exit code (or signal) when the process exits by itself or is stopped. */
  exited: Promise<number | string>
}

/**
 * Spawns the server on a runtime on a free loopback port, in its own process group, without waiting.
 * Its stdout and stderr go straight to files in a scratch directory (removed by `stop()`), so the
 * log is complete and nothing is held back or silenced in a pipe.
 */
export async function spawnRuntime(spec: RuntimeSpec, env: Record<string, string>): Promise<SpawnedServer> {
  assertInstalled(spec)
  const port = await freePort()
  const scratch = mkdtempSync(join(tmpdir(), `assistant-${spec.name}-`))
  const logFile = join(scratch, 'stdout.log')
  const errorFile = join(scratch, 'stderr.log')
  const out = openSync(logFile, 'a')
  const err = openSync(errorFile, 'a')
  const { file, args } = spec.command(port, env, scratch)
  const child = spawn(file, args, {
    cwd: ROOT,
    // Its own process group, so stop() reaches grandchildren (wrangler → workerd).
    detached: true,
    stdio: ['ignore', out, err],
    // Where it listens (loopback, a free port) and no update checks or metrics sent: none of these is
    // an app setting a test is about; the app's own settings are the shipped defaults plus `env`.
    env: {
      PATH: `${BIN}:${process.env.PATH}`,
      HOME: process.env.HOME ?? scratch,
      HOST: '127.0.0.1',
      PORT: String(port),
      DENO_NO_UPDATE_CHECK: '1',
      WRANGLER_SEND_METRICS: 'false',
      XDG_CONFIG_HOME: scratch,
      ...env,
    },
  })
  // The child holds its own copies of the descriptors.
  closeSync(out)
  closeSync(err)
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8')
    } catch {
      return ''
    }
  }
  const exited = new Promise<number | string>((resolveExit) => child.once('exit', (code, signal) => resolveExit(code ?? signal ?? -1)))
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    logFile,
    output: () => `${read(logFile).slice(-20_000)}${read(errorFile).slice(-10_000)}`,
    errors: () => read(errorFile),
    logLines: () => jsonLines(read(logFile)),
    exited,
    stop: async () => {
      const code = await stopGroup(child, exited)
      rmSync(scratch, { recursive: true, force: true })
      return code
    },
  }
}

/** The lines of `text` that are JSON objects (a line may carry a prefix before its `{`, as wrangler's do). */
export function jsonLines(text: string): Record<string, any>[] {
  const lines: Record<string, any>[] = []
  for (const line of text.split('\n')) {
    const start = line.indexOf('{"')
    if (start === -1) continue
    try {
      lines.push(JSON.parse(line.slice(start)))
    } catch {
      // Not a log line.
    }
  }
  return lines
}

/** Starts the server on a runtime and waits (bounded) until /health answers 200. */
export async function startRuntime(spec: RuntimeSpec, options: StartOptions): Promise<RunningServer> {
  const server = await spawnRuntime(spec, options.env)
  try {
    await waitForHealth(server, options.readyTimeoutMs ?? 45_000)
  } catch (error) {
    await server.stop()
    throw new Error(`${spec.name} did not become healthy: ${(error as Error).message}\n--- output ---\n${server.output()}`)
  }
  return server
}

/** Polls `path` until it answers at all (any status), bounded; fails early when the process exits. */
export async function firstAnswer(server: SpawnedServer, path: string, timeoutMs = 45_000): Promise<Response> {
  let exitedWith: number | string | undefined
  void server.exited.then((code) => (exitedWith = code))
  const deadline = Date.now() + timeoutMs
  let last = 'no answer'
  while (Date.now() < deadline) {
    if (exitedWith !== undefined) throw new Error(`the process exited (${exitedWith})`)
    try {
      return await fetch(`${server.baseUrl}${path}`, { signal: AbortSignal.timeout(2_000) })
    } catch (error) {
      last = (error as Error).message
    }
    await new Promise((wake) => setTimeout(wake, 150))
  }
  throw new Error(`${path} did not answer within ${timeoutMs} ms (last: ${last})`)
}

/** Waits (bounded) until the process has printed something matching `pattern`; returns the output. */
export async function waitForOutput(server: RunningServer, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  while (!pattern.test(server.output()) && Date.now() < deadline) await new Promise((wake) => setTimeout(wake, 100))
  return server.output()
}

async function waitForHealth(server: SpawnedServer, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const res = await firstAnswer(server, '/health', Math.max(1, deadline - Date.now()))
    await res.body?.cancel()
    if (res.status === 200) return
    await new Promise((wake) => setTimeout(wake, 150))
  }
  throw new Error(`/health not 200 within ${timeoutMs} ms`)
}

async function stopGroup(child: ChildProcess, exited: Promise<number | string>): Promise<number | string> {
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal)
    } catch {
      // The group is gone already.
    }
  }
  if (child.exitCode === null && child.signalCode === null) {
    signalGroup('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const grace = new Promise<void>((wake) => (timer = setTimeout(wake, 10_000)))
    await Promise.race([exited, grace])
    clearTimeout(timer)
  }
  // Grandchildren (workerd under wrangler) may outlive their parent: always sweep the group.
  signalGroup('SIGKILL')
  return exited
}
