/**
 * The machinery of the HTTP benchmarks (`bench/http.ts`): start one server process per variant pinned
 * to core 0, drive it with wrk pinned to core 1, read req/s, p99 and the server's CPU time per request
 * (from /proc), and print medians, ranges and ratios.
 */
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'

/** The API key every variant's requests carry (the full app needs it; the bare servers ignore it). */
export const KEY = 'bench-key-0123456789abcdef'

/** One server to measure: a command line started with HOST, PORT and `env`, and the path wrk requests. */
export interface Variant {
  name: string
  command: string[]
  env?: Record<string, string>
  path: string
  /** Working directory (its `config/default.yaml` applies); default this checkout. */
  cwd?: string
}

export interface Sample {
  rps: number
  p99ms: number
  /** Server CPU (user + system, all threads) per request: robust to other load on the machine, unlike req/s. */
  cpuUs: number
  /** Requests served in the warm-up and the measured run together (for per-request profile costs). */
  requests: number
}

export interface LoadOptions {
  /** Seconds of load measured. */
  duration: number
  /** Seconds of load before the measured run, so JITs and caches are warm. */
  warmup: number
  /** wrk's open connections. */
  connections: number
}

export function requireTools(): void {
  for (const tool of ['wrk', 'taskset']) {
    if (spawnSync('which', [tool]).status !== 0) {
      console.error(`bench needs ${tool}: install it with \`apt-get install ${tool === 'wrk' ? 'wrk' : 'util-linux'}\``)
      process.exit(1)
    }
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`)
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' }, () => {
        socket.destroy()
        resolve(true)
      })
      socket.on('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`server did not listen on ${port} within 10 s`)
}

/** utime + stime of a process and all its threads, in seconds (Linux /proc; clock ticks are 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

function wrk(port: number, path: string, seconds: number, connections: number): { rps: number; p99ms: number; requests: number } {
  const result = spawnSync(
    'taskset',
    ['-c', '1', 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-H', `Authorization: Bearer ${KEY}`, `http://127.0.0.1:${port}${path}`],
    { encoding: 'utf8' },
  )
  const out = result.stdout
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])
  const requests = Number(/(\d+) requests in/.exec(out)?.[1])
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)\b/.exec(out)
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)
  if (non2xx) throw new Error(`${non2xx[1]} responses were not 2xx:\n${out}`)
  if (!rps || !p99) throw new Error(`could not read wrk output:\n${out}${result.stderr}`)
  const scale = p99[2] === 'us' ? 0.001 : p99[2] === 's' ? 1000 : 1
  return { rps, requests, p99ms: Number(p99[1]) * scale }
}

/** Called around the measured run (after the warm-up), e.g. to start and stop a profiler over the inspector. */
export interface MeasureHooks {
  beforeRun?: () => Promise<void>
  afterRun?: () => Promise<void>
}

/** Starts the variant on core 0, warms it up, measures one run, and stops it (SIGINT, then SIGKILL after 5 s). */
export async function measure(variant: Variant, load: LoadOptions, hooks: MeasureHooks = {}): Promise<Sample> {
  const port = await freePort()
  const [file, ...args] = variant.command
  // Every variant's log lines go to a real file, as in production: the app's stdout, or the file a
  // server names itself from BENCH_LOG_FILE (the Fastify peer's logger).
  const logs = mkdtempSync(join(tmpdir(), 'bench-log-'))
  const stdout = openSync(join(logs, 'stdout.log'), 'w')
  const child = spawn('taskset', ['-c', '0', file, ...args], {
    // HOME: Deno and Bun keep their caches under it.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: String(port), BENCH_LOG_FILE: join(logs, 'server.log'), ...variant.env },
    stdio: ['ignore', stdout, 'inherit'],
    cwd: variant.cwd,
  })
  closeSync(stdout)
  try {
    await waitForPort(port, child)
    const warmupRequests = wrk(port, variant.path, load.warmup, load.connections).requests
    await hooks.beforeRun?.()
    const before = cpuSeconds(child.pid!)
    const { rps, p99ms, requests } = wrk(port, variant.path, load.duration, load.connections)
    const cpuUs = ((cpuSeconds(child.pid!) - before) / requests) * 1e6
    await hooks.afterRun?.()
    // With hooks the profile covers the measured run only; without, the process's whole life.
    return { rps, p99ms, cpuUs, requests: hooks.beforeRun ? requests : requests + warmupRequests }
  } finally {
    // SIGINT: the app drains and exits 0, the bench servers exit at once; either way --cpu-prof is written.
    const exited = child.exitCode === null && child.signalCode === null ? once(child, 'exit') : Promise.resolve()
    child.kill('SIGINT')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
    rmSync(logs, { recursive: true, force: true })
  }
}

/** `list` starting at its `round`-th item (1-based), wrapping around: a b c, b c a, c a b, … */
export function rotated<T>(list: T[], round: number): T[] {
  return list.map((_, i) => list[(i + round - 1) % list.length])
}

/** `NAME=VALUE` pairs (a `--set` option) as an object. */
export function settingsFrom(pairs: string[]): Record<string, string> {
  return Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]))
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Medians of one variant's rounds. */
export interface Summary {
  rps: number
  cpuUs: number
}

/**
 * Runs every variant once per round, interleaved and rotated (a, b, c, b, c, a, ...) because the machine is shared
 * and noisy, printing each sample and then the median and range per variant.
 */
export async function runRounds(variants: Variant[], rounds: number, load: LoadOptions): Promise<Map<string, Summary>> {
  const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]))
  const width = Math.max(24, ...variants.map((v) => v.name.length))
  console.log(
    `${variants.length} variants × ${rounds} rounds, ${load.warmup}s warm-up + ${load.duration}s each, wrk -t1 -c${load.connections}; server on core 0, wrk on core 1`,
  )
  for (let round = 1; round <= rounds; round++) {
    // Each round starts one variant later (a b c, b c a, c a b, …), so no variant always holds the
    // same place in the sequence: swapping two variants' places moved their CPU per request by more
    // than the difference being measured.
    for (const variant of rotated(variants, round)) {
      const sample = await measure(variant, load)
      samples.get(variant.name)!.push(sample)
      console.log(
        `round ${round}  ${variant.name.padEnd(width)} ${sample.rps.toFixed(0).padStart(7)} req/s  p99 ${sample.p99ms.toFixed(2).padStart(7)} ms  ${sample.cpuUs.toFixed(1).padStart(6)} µs CPU/req`,
      )
    }
  }
  const summary = new Map<string, Summary>()
  const range = (xs: number[], digits: number) => `${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}]`
  console.log(`\n${'variant'.padEnd(width)} req/s median [min–max]   p99 ms median [min–max]   CPU µs/req median [min–max]`)
  for (const [name, list] of samples) {
    const rps = list.map((s) => s.rps)
    const cpu = list.map((s) => s.cpuUs)
    summary.set(name, { rps: median(rps), cpuUs: median(cpu) })
    console.log(`${name.padEnd(width)} ${range(rps, 0).padEnd(24)} ${range(list.map((s) => s.p99ms), 2).padEnd(25)} ${range(cpu, 1)}`)
  }
  return summary
}

/**
 * Prints (c)/(b), (c)/(a) and (b)/(a) by req/s and by CPU per request, when all three were measured.
 * `labels` name the three variants as the lines should say them (e.g. "raw node:http").
 */
export function printRatios(summary: Map<string, Summary>, pairs: [over: string, under: string, label: string, target?: string][]): void {
  const ratio = (x: Summary, y: Summary) => `${(x.rps / y.rps).toFixed(2)} by req/s, ${(y.cpuUs / x.cpuUs).toFixed(2)} by CPU per request`
  const width = Math.max(32, ...pairs.map(([, , label]) => label.length + 1))
  console.log('')
  for (const [over, under, label, target] of pairs) {
    const x = summary.get(over)
    const y = summary.get(under)
    if (x && y) console.log(`${`${label}:`.padEnd(width)} ${ratio(x, y)}${target ? `  (target ${target})` : ''}`)
  }
}
