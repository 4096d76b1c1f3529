import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
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

/** Node (the built bundle), Bun, Deno and workerd (through `wrangler dev`), each as a user starts it. */
export const RUNTIMES: RuntimeSpec[] = [
  {
    name: 'node',
    binaries: ['node', 'esbuild'],
    command: () => ({ file: join(BIN, 'node'), args: ['dist/node.js'] }),
    metrics: true,
    onBadConfig: 'exit 2',
    crossRequestIo: true,
  },
  {
    name: 'bun',
    binaries: ['bun'],
    command: () => ({ file: join(BIN, 'bun'), args: ['run', 'src/runtimes/bun.ts'] }),
    metrics: true,
    onBadConfig: 'exit 2',
    crossRequestIo: true,
  },
  {
    name: 'deno',
    binaries: ['deno'],
    // The command line of `deno task start`, run without the task wrapper: `deno task` relays signals
    // to its child as well, so a signal to the group reached the server twice (the second forces exit 1).
    command: () => {
      const [binary, ...args] = denoTask('start').split(/\s+/)
      return { file: resolve(ROOT, binary), args }
    },
    metrics: true,
    onBadConfig: 'exit 2',
    crossRequestIo: true,
  },
  {
    name: 'workerd',
    binaries: ['node', 'wrangler'],
    // wrangler needs Node >= 22.12, so it runs on the project's Node, not whatever `node` is on PATH.
    // Settings reach a Worker as vars, not as a process environment.
    command: (port, env, scratch) => ({
      file: join(BIN, 'node'),
      args: [
        join(BIN, 'wrangler'), 'dev', '--ip', '127.0.0.1', '--port', String(port),
        '--inspector-port', String(port + 1), '--persist-to', join(scratch, 'state'),
        '--show-interactive-dev-session=false', '--log-level', 'warn',
        ...Object.entries(env).flatMap(([name, value]) => ['--var', `${name}:${value}`]),
      ],
    }),
    metrics: true,
    onBadConfig: '500 problem',
    // workerd binds streams, sockets and abort signals to the request that created them, even within
    // one isolate: a job cannot outlive or be stopped by another request, nor the hub write to another
    // request's socket (it would take a Durable Object to hold them).
    crossRequestIo: false,
  },
]

/** A task's command line from deno.json. */
export function denoTask(name: string): string {
  const task = JSON.parse(readFileSync(join(ROOT, 'deno.json'), 'utf8')).tasks[name]
  if (!task) throw new Error(`deno.json has no "${name}" task`)
  return typeof task === 'string' ? task : task.command
}

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
  /** Everything the process printed so far, for failure messages. */
  output(): string
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

/** Spawns the server on a runtime on a free loopback port, in its own process group, without waiting. */
export async function spawnRuntime(spec: RuntimeSpec, env: Record<string, string>): Promise<SpawnedServer> {
  assertInstalled(spec)
  const port = await freePort()
  const scratch = mkdtempSync(join(tmpdir(), `assistant-${spec.name}-`))
  const { file, args } = spec.command(port, env, scratch)
  const child = spawn(file, args, {
    cwd: ROOT,
    // Its own process group, so stop() reaches grandchildren (deno task → deno, wrangler → workerd).
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
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
  let output = ''
  child.stdout!.on('data', (chunk) => (output = (output + chunk).slice(-20_000)))
  child.stderr!.on('data', (chunk) => (output = (output + chunk).slice(-20_000)))
  const exited = new Promise<number | string>((resolveExit) => child.once('exit', (code, signal) => resolveExit(code ?? signal ?? -1)))
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    output: () => output,
    exited,
    stop: async () => {
      const code = await stopGroup(child, exited)
      rmSync(scratch, { recursive: true, force: true })
      return code
    },
  }
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
  // Grandchildren (workerd, deno under `deno task`) may outlive their parent: always sweep the group.
  signalGroup('SIGKILL')
  return exited
}
