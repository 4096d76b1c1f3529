/**
 * HTTP throughput of the full chain against bare Hono and raw node:http, in one run.
 *
 *   npm run bench                      # (a) raw node:http, (b) bare Hono, (c) the app, 3 rounds
 *   npm run bench -- --rounds 5 --duration 10
 *   npm run bench -- --ablate          # plus the chain rebuilt one middleware at a time
 *   npm run bench -- --profile         # one run of (c) under --cpu-prof: µs per request by middleware
 *   npm run bench -- --profile --only 'bare' --drill 'node (http, net, timers)'
 *
 * Each variant runs in its own process pinned to core 0 (`taskset -c 0`); wrk runs pinned to core 1.
 * Besides req/s and p99 it reports the server's CPU time per request (from /proc), which other
 * load on the machine disturbs far less than throughput.
 * Rounds are interleaved (a, b, c, a, b, c, ...) and each is preceded by a warm-up, because the
 * machine is shared and noisy: read the median and the range, not a single number.
 * Needs wrk (`apt-get install wrk`) and taskset (util-linux).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { parseArgs } from 'node:util'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { costPerRequest, leavesUnder } from './profile.ts'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    ablate: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    /** With --profile: owners separated by | (e.g. accessLogMiddleware) whose leaf functions to list. */
    drill: { type: 'string' },
    only: { type: 'string' },
  },
})
const ROUNDS = Number(args.rounds)
const DURATION = Number(args.duration)
const WARMUP = Number(args.warmup)
const CONNECTIONS = Number(args.connections)
const KEY = 'bench-key-0123456789abcdef'

for (const tool of ['wrk', 'taskset']) {
  if (spawnSync('which', [tool]).status !== 0) {
    console.error(`bench needs ${tool}: install it with \`apt-get install ${tool === 'wrk' ? 'wrk' : 'util-linux'}\``)
    process.exit(1)
  }
}

interface Variant {
  name: string
  script: string
  env?: Record<string, string>
  path: string
}

/** The chain as app.ts orders it; ablation adds one middleware at a time. */
const CHAIN = ['responseHeaders', 'requestId', 'accessLog', 'metrics', 'tracing', 'securityHeaders', 'cors', 'rateLimit', 'bodyLimit', 'timeout', 'auth']

const APP_ENV = {
  API_KEYS: `bench:${KEY}`,
  LOG_LEVEL: 'info',
  // Limiting stays on, with limits no benchmark reaches.
  RATE_LIMIT_ENABLED: 'true',
  RATE_LIMIT_REQUESTS_PER_MINUTE: '1000000000',
  RATE_LIMIT_BURST: '1000000000',
  RATE_LIMIT_GLOBAL_REQUESTS_PER_SECOND: '1000000000',
  RATE_LIMIT_GLOBAL_BURST: '1000000000',
  METRICS_ENABLED: 'true',
}

let variants: Variant[] = [
  { name: 'a raw node:http', script: 'bench/servers/raw.ts', path: '/api/v1/me' },
  { name: 'b bare Hono', script: 'bench/servers/hono.ts', path: '/api/v1/me' },
  { name: 'c full app', script: 'src/runtimes/node.ts', env: APP_ENV, path: '/api/v1/me' },
]
if (args.ablate) {
  variants.push({ name: "b' Hono + app headers", script: 'bench/servers/hono.ts', env: { BENCH_HEADERS: '1' }, path: '/api/v1/me' })
  for (let i = 0; i <= CHAIN.length; i++) {
    variants.push({
      name: i === 0 ? 'chain: none' : `chain: +${CHAIN[i - 1]}`,
      script: 'bench/servers/chain.ts',
      env: { ...APP_ENV, BENCH_CHAIN: CHAIN.slice(0, i).join(',') },
      path: '/api/v1/me',
    })
  }
}
if (args.only) variants = variants.filter((v) => args.only!.split(',').some((part) => v.name.includes(part)))

function freePort(): Promise<number> {
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

interface Sample {
  rps: number
  p99ms: number
  /** Server CPU (user + system) per request: robust to other load on the machine, unlike req/s. */
  cpuUs: number
}

/** utime + stime of a process, in seconds (Linux /proc; clock ticks are 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

function wrk(port: number, path: string, seconds: number): Omit<Sample, 'cpuUs'> & { requests: number } {
  const result = spawnSync(
    'taskset',
    ['-c', '1', 'wrk', '-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', `Authorization: Bearer ${KEY}`, `http://127.0.0.1:${port}${path}`],
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

async function measure(variant: Variant, nodeFlags: string[] = []): Promise<Sample> {
  const port = await freePort()
  const child = spawn('taskset', ['-c', '0', process.execPath, ...nodeFlags, variant.script], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), ...variant.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  try {
    await waitForPort(port, child)
    const warmupRequests = wrk(port, variant.path, WARMUP).requests
    const before = cpuSeconds(child.pid!)
    const { rps, p99ms, requests } = wrk(port, variant.path, DURATION)
    const cpuUs = ((cpuSeconds(child.pid!) - before) / requests) * 1e6
    lastRequests = requests + warmupRequests
    return { rps, p99ms, cpuUs }
  } finally {
    // SIGINT: the app drains and exits 0, the bench servers exit at once; either way --cpu-prof is written.
    child.kill('SIGINT')
    const exited = child.exitCode === null && child.signalCode === null ? once(child, 'exit') : Promise.resolve()
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }
}

let lastRequests = 0

if (args.profile) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-prof-'))
  try {
    // The full app unless --only picked another variant.
    const target = args.only ? variants[0] : variants.find((v) => v.name === 'c full app')!
    const sample = await measure(target, ['--cpu-prof', `--cpu-prof-dir=${dir}`])
    const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'))!
    const { total, rows } = costPerRequest(join(dir, file), lastRequests)
    console.log(`${target.name} under --cpu-prof: ${sample.rps.toFixed(0)} req/s; busy CPU ${total.toFixed(1)} µs/request (start-up included), by owner:`)
    for (const [owner, us] of rows) console.log(`${us.toFixed(2).padStart(7)} µs  ${owner}`)
    for (const owner of (args.drill ?? '').split('|').filter(Boolean)) {
      console.log(`\n${owner}: leaf functions`)
      for (const [name, us] of leavesUnder(join(dir, file), lastRequests, owner).slice(0, 15)) console.log(`${us.toFixed(2).padStart(7)} µs  ${name}`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  process.exit(0)
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]))
console.log(`${variants.length} variants × ${ROUNDS} rounds, ${WARMUP}s warm-up + ${DURATION}s each, wrk -t1 -c${CONNECTIONS}; server on core 0, wrk on core 1`)
for (let round = 1; round <= ROUNDS; round++) {
  for (const variant of variants) {
    const sample = await measure(variant)
    samples.get(variant.name)!.push(sample)
    console.log(`round ${round}  ${variant.name.padEnd(24)} ${sample.rps.toFixed(0).padStart(7)} req/s  p99 ${sample.p99ms.toFixed(2).padStart(7)} ms  ${sample.cpuUs.toFixed(1).padStart(6)} µs CPU/req`)
  }
}

const summary = new Map<string, number>()
const cpu = new Map<string, number>()
const range = (xs: number[], digits: number) => `${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}]`
console.log('\nvariant                  req/s median [min–max]   p99 ms median [min–max]   CPU µs/req median [min–max]')
for (const [name, list] of samples) {
  const rps = list.map((s) => s.rps)
  summary.set(name, median(rps))
  cpu.set(name, median(list.map((s) => s.cpuUs)))
  console.log(
    `${name.padEnd(24)} ${range(rps, 0).padEnd(24)} ${range(list.map((s) => s.p99ms), 2).padEnd(25)} ${range(list.map((s) => s.cpuUs), 1)}`,
  )
}

const a = summary.get('a raw node:http')
const b = summary.get('b bare Hono')
const c = summary.get('c full app')
if (a && b && c) {
  const ratio = (x: string, y: string) =>
    `${(summary.get(x)! / summary.get(y)!).toFixed(2)} by req/s, ${(cpu.get(y)! / cpu.get(x)!).toFixed(2)} by CPU per request`
  console.log(`\n(c)/(b) full app / bare Hono:      ${ratio('c full app', 'b bare Hono')}  (target ≥ 0.70)`)
  console.log(`(c)/(a) full app / raw node:http:  ${ratio('c full app', 'a raw node:http')}`)
  console.log(`(b)/(a) bare Hono / raw node:http: ${ratio('b bare Hono', 'a raw node:http')}`)
}
if (args.ablate) {
  console.log('\nablation: server CPU per request as each middleware is added in app.ts order (medians)')
  let previous: number | undefined
  for (const [name, us] of cpu) {
    if (!name.startsWith('chain:')) continue
    const delta = previous === undefined ? '' : `  ${us - previous >= 0 ? '+' : ''}${(us - previous).toFixed(1)} µs`
    console.log(`${name.padEnd(24)} ${us.toFixed(1).padStart(6)} µs/req${delta}`)
    previous = us
  }
}
