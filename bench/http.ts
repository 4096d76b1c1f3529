/**
 * HTTP throughput of the full chain against bare Hono and the runtime's raw server, in one run.
 *
 *   npm run bench                      # Node: (a) raw node:http, (b) bare Hono, (c) the app, 3 rounds
 *   npm run bench -- --runtime bun     # Bun: (a) raw Bun.serve, (b) bare Hono on Bun.serve, (c) src/runtimes/bun.ts
 *   npm run bench -- --runtime deno    # Deno: (a) raw Deno.serve, (b) bare Hono on Deno.serve, (c) `npm run start:deno`'s command
 *   npm run bench -- --runtime all --rounds 2 --duration 5
 *   npm run bench -- --ablate          # plus bare Hono sending the app's headers (and also writing the app's access line); on Node the chain rebuilt one middleware at a time
 *   npm run bench -- --against DIR     # plus (d): the app of another checkout (e.g. `git worktree add DIR <commit>`, node_modules linked)
 *   npm run bench -- --profile         # one run of (c) under --cpu-prof: µs per request by middleware
 *   npm run bench -- --profile --runtime deno   # Bun: --cpu-prof; Deno: a profile taken over --inspect
 *   npm run bench -- --profile --only 'bare' --drill 'node (http, net, timers)'
 *   npm run bench -- --runtime deno --only 'full app' --set LOG_LEVEL=warn   # the app without its access log
 *
 * On Node (p) is the peer stack users would pick instead: Fastify 5 with helmet, CORS, rate limit, pino
 * at info to a file, request ids, prom-client metrics by route and a bearer-key check (bench/servers/fastify.ts).
 * Each variant runs in its own process pinned to core 0 (`taskset -c 0`); wrk runs pinned to core 1.
 * Besides req/s and p99 it reports the server's CPU time per request (from /proc), which other
 * load on the machine disturbs far less than throughput.
 * Rounds are interleaved and rotated (a, b, c, b, c, a, ...) and each is preceded by a warm-up, because the
 * machine is shared and noisy: read the median and the range, not a single number.
 * Needs wrk (`apt-get install wrk`) and taskset (util-linux); Bun and Deno from node_modules/.bin.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { freePort, KEY, measure, printRatios, requireTools, runRounds, settingsFrom, type Variant } from './harness.ts'
import { inspectorProfiler } from './inspector-profile.ts'
import { costPerRequest, leavesUnder } from './profile.ts'

const { values: args } = parseArgs({
  options: {
    runtime: { type: 'string', default: 'node' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    ablate: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    /** With --profile: owners separated by | (e.g. 'middleware: access-log') whose leaf functions to list. */
    drill: { type: 'string' },
    only: { type: 'string' },
    /** Settings for the full app over APP_ENV's, NAME=VALUE (repeatable), e.g. `--set LOG_LEVEL=warn` to ablate the access log. */
    set: { type: 'string', multiple: true, default: [] },
    /** Another checkout whose app to measure beside this one (no regression against an earlier commit). */
    against: { type: 'string' },
  },
})
const ROUNDS = Number(args.rounds)
const LOAD = { duration: Number(args.duration), warmup: Number(args.warmup), connections: Number(args.connections) }
const ROOT = resolve(import.meta.dirname, '..')
const BIN = join(ROOT, 'node_modules/.bin')

type Runtime = 'node' | 'bun' | 'deno'
const RUNTIMES: Runtime[] = args.runtime === 'all' ? ['node', 'bun', 'deno'] : [args.runtime as Runtime]
for (const runtime of RUNTIMES) {
  if (!['node', 'bun', 'deno'].includes(runtime)) {
    console.error(`--runtime must be node, bun, deno or all, not ${runtime}`)
    process.exit(2)
  }
}
requireTools()

/** The chain as app.ts orders it; ablation adds one middleware at a time. */
const CHAIN = ['requestId', 'accessLog', 'metrics', 'tracing', 'securityHeaders', 'cors', 'rateLimit', 'bodyLimit', 'timeout', 'auth']

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
  ...settingsFrom(args.set),
}

/** The app's command line under `npm run start:deno`, with the binary npm would find in node_modules/.bin. */
function denoStart(): string[] {
  const [binary, ...rest] = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts['start:deno'].split(/\s+/)
  return [join(BIN, binary), ...rest]
}

/**
 * (a), (b), (c) on one runtime; `profileFlags` go where the runtime takes them.
 * Names start with the runtime so `--runtime all` keeps them apart and `--only bun` picks a runtime.
 */
function variantsFor(runtime: Runtime, profileFlags: string[] = []): Variant[] {
  const path = '/api/v1/me'
  if (runtime === 'node') {
    const node = (script: string) => [process.execPath, ...profileFlags, script]
    return [
      { name: 'node a raw node:http', command: node('bench/servers/raw.ts'), path },
      { name: 'node b bare Hono', command: node('bench/servers/hono.ts'), path },
      { name: 'node c full app', command: node('src/runtimes/node.ts'), env: APP_ENV, path },
      { name: 'node p Fastify stack', command: node('bench/servers/fastify.ts'), path },
      ...(args.against ? [{ name: 'node d previous app', command: node(resolve(args.against, 'src/runtimes/node.ts')), env: APP_ENV, path, cwd: resolve(args.against) }] : []),
    ]
  }
  if (runtime === 'bun') {
    const bun = (script: string) => [join(BIN, 'bun'), ...profileFlags, 'run', script]
    return [
      { name: 'bun a raw Bun.serve', command: bun('bench/servers/raw-fetch.ts'), path },
      { name: 'bun b bare Hono', command: bun('bench/servers/hono-fetch.ts'), path },
      { name: 'bun c full app', command: bun('src/runtimes/bun.ts'), env: APP_ENV, path },
    ]
  }
  const [deno, run, ...appArgs] = denoStart()
  const benchServer = (script: string) => [deno, run, ...profileFlags, '--allow-net', '--allow-env', '--allow-read', '--allow-sys', script]
  return [
    { name: 'deno a raw Deno.serve', command: benchServer('bench/servers/raw-fetch.ts'), path },
    { name: 'deno b bare Hono', command: benchServer('bench/servers/hono-fetch.ts'), path },
    { name: 'deno c full app', command: [deno, run, ...profileFlags, ...appArgs], env: APP_ENV, path },
  ]
}

function ablationVariants(): Variant[] {
  // Bare Hono sending the app's header set, per runtime: what the headers cost without the chain.
  const variants: Variant[] = RUNTIMES.map((runtime) => {
    const bare = variantsFor(runtime)[1]
    return { ...bare, name: `${runtime} b' Hono + app headers`, env: { BENCH_HEADERS: '1' } }
  })
  // The same, also writing the app's access line: the floor for a server with those headers and that log.
  for (const runtime of RUNTIMES) {
    const bare = variantsFor(runtime)[1]
    variants.push({ ...bare, name: `${runtime} b" Hono + app headers + access line`, env: { BENCH_HEADERS: '1', BENCH_ACCESS_LOG: '1' } })
  }
  if (!RUNTIMES.includes('node')) return variants
  for (let i = 0; i <= CHAIN.length; i++) {
    variants.push({
      name: i === 0 ? 'chain: none' : `chain: +${CHAIN[i - 1]}`,
      command: [process.execPath, 'bench/servers/chain.ts'],
      env: { ...APP_ENV, BENCH_CHAIN: CHAIN.slice(0, i).join(',') },
      path: '/api/v1/me',
    })
  }
  return variants
}

const pick = (variants: Variant[]) => (args.only ? variants.filter((v) => args.only!.split(',').some((part) => v.name.includes(part))) : variants)

if (args.profile) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-prof-'))
  try {
    // The full app of the (first) runtime unless --only picked another variant.
    const runtime = RUNTIMES[0]
    // Deno's CLI has no --cpu-prof: profile the measured run over its inspector instead.
    const inspectPort = runtime === 'deno' ? await freePort() : 0
    const profiler = inspectorProfiler(inspectPort)
    const flags = runtime === 'deno' ? [`--inspect=127.0.0.1:${inspectPort}`] : ['--cpu-prof', `--cpu-prof-dir=${dir}`]
    const hooks = runtime === 'deno' ? { beforeRun: () => profiler.start(), afterRun: () => profiler.stop(join(dir, 'deno.cpuprofile')) } : {}
    const all = variantsFor(runtime, flags)
    const target = args.only ? pick(all)[0] : all[2]
    const sample = await measure(target, LOAD, hooks)
    const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'))
    if (!file) throw new Error(`${runtime} wrote no .cpuprofile into ${dir}`)
    const { total, rows } = costPerRequest(join(dir, file), sample.requests)
    const span = runtime === 'deno' ? 'measured run only' : 'start-up included'
    console.log(`${target.name} under a CPU profiler: ${sample.rps.toFixed(0)} req/s; busy CPU ${total.toFixed(1)} µs/request (${span}), by owner:`)
    for (const [owner, us] of rows) console.log(`${us.toFixed(2).padStart(7)} µs  ${owner}`)
    for (const owner of (args.drill ?? '').split('|').filter(Boolean)) {
      console.log(`\n${owner}: leaf functions`)
      for (const [name, us] of leavesUnder(join(dir, file), sample.requests, owner).slice(0, 15)) console.log(`${us.toFixed(2).padStart(7)} µs  ${name}`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  process.exit(0)
}

const variants = pick([...RUNTIMES.flatMap((runtime) => variantsFor(runtime)), ...(args.ablate ? ablationVariants() : [])])
const summary = await runRounds(variants, ROUNDS, LOAD)

const RAW: Record<Runtime, string> = { node: 'raw node:http', bun: 'raw Bun.serve', deno: 'raw Deno.serve' }
for (const runtime of RUNTIMES) {
  const [a, b, c, ...others] = variantsFor(runtime).map((v) => v.name)
  const named = (tag: string) => others.find((name) => name.startsWith(`${runtime} ${tag} `)) ?? ''
  if (RUNTIMES.length > 1) console.log(`\n${runtime}:`)
  printRatios(summary, [
    [c, b, 'full app / bare Hono', runtime === 'node' ? '≥ 0.70' : undefined],
    [c, a, `full app / ${RAW[runtime]}`],
    [b, a, `bare Hono / ${RAW[runtime]}`],
    [c, named('p'), 'full app / Fastify stack', '≥ 1.3'],
    [c, named('d'), 'full app / previous app', '≥ 1.0'],
    [c, `${runtime} b' Hono + app headers`, "full app / bare Hono + the app's headers", runtime === 'node' ? undefined : '≥ 0.85'],
    [c, `${runtime} b" Hono + app headers + access line`, 'full app / bare Hono + headers + access line'],
    // The most the full app can reach while sending those headers and writing that line.
    [`${runtime} b" Hono + app headers + access line`, b, 'bare Hono + headers + access line / bare Hono'],
    [`${runtime} b" Hono + app headers + access line`, `${runtime} b' Hono + app headers`, "bare Hono + headers + access line / bare Hono + the app's headers"],
  ])
}
if (args.ablate) {
  console.log('\nablation: server CPU per request as each middleware is added in app.ts order (medians)')
  let previous: number | undefined
  for (const [name, { cpuUs: us }] of summary) {
    if (!name.startsWith('chain:')) continue
    const delta = previous === undefined ? '' : `  ${us - previous >= 0 ? '+' : ''}${(us - previous).toFixed(1)} µs`
    console.log(`${name.padEnd(24)} ${us.toFixed(1).padStart(6)} µs/req${delta}`)
    previous = us
  }
}
