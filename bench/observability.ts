/**
 * Micro-benchmark of the three observability middlewares: N in-process requests through a tiny app
 * with and without each, on @hono/node-server's lightweight Request/Response (as in production),
 * one variant per child process, interleaved rounds. Prints µs/request and the cost over bare.
 *
 *   node_modules/.bin/node bench/observability.ts [N=200000] [ROUNDS=3]
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { getRequestListener } from '@hono/node-server'
import { trace } from '@opentelemetry/api'
import { Hono } from 'hono'
import pino from 'pino'
import { Registry } from 'prom-client'
import type { AppEnv } from '../src/env.ts'
import { accessLog } from '../src/middleware/access-log/index.ts'
import { metrics } from '../src/middleware/metrics/index.ts'
import { tracing } from '../src/middleware/tracing/index.ts'
import { json } from '../src/pipeline/index.ts'

const VARIANTS = ['bare', 'access-log', 'metrics', 'tracing', 'all-three', 'all-three-plain-json'] as const
type Variant = (typeof VARIANTS)[number]

let sink = 0

function build(variant: Variant) {
  const app = new Hono<AppEnv>()
  // A sink that only counts: measures the middleware, not the file system (a tight loop of awaits never
  // lets sonic-boom's async writes run, so its buffer would grow without bound).
  const logger = pino({ level: 'info' }, { write: (line: string) => void (sink += line.length) })
  const withHint = variant !== 'all-three-plain-json'
  app.use(async (c, next) => {
    c.set('requestId', 'req-0123456789')
    await next()
  })
  if (variant === 'access-log' || variant.startsWith('all-three')) app.use(accessLog({ logger, peerAddress: () => '127.0.0.1' }))
  if (variant === 'metrics' || variant.startsWith('all-three')) app.use(metrics({ registry: new Registry() }).middleware)
  if (variant === 'tracing' || variant.startsWith('all-three')) app.use(tracing({ tracer: trace.getTracer('bench') }))
  app.get('/api/v1/conversations/:id', (c) => {
    const data = { data: [], next_cursor: null, id: c.req.param('id') }
    // The pipeline's builder knows the body's size; a plain c.json() body is counted at the end.
    return withHint ? json(c, data) : c.json(data)
  })
  return app
}

async function run(variant: Variant, n: number): Promise<number> {
  // Installs @hono/node-server's lightweight Request/Response as the globals, as `serve()` does.
  getRequestListener(() => new Response(null))
  const app = build(variant)
  const headers = { 'user-agent': 'bench/1.0' }
  for (let i = 0; i < 20_000; i++) await app.request(`/api/v1/conversations/${i}`, { headers })
  // CPU time of this process, not wall time: the machine is shared, and CPU per request is the budget.
  const start = process.cpuUsage()
  for (let i = 0; i < n; i++) await app.request(`/api/v1/conversations/${i}`, { headers })
  const used = process.cpuUsage(start)
  return (used.user + used.system) / n
}

const [, , arg1, arg2, arg3] = process.argv
if (arg1 === '--variant') {
  const usPerRequest = await run(arg2 as Variant, Number(arg3))
  process.stdout.write(String(usPerRequest))
} else {
  const n = Number(arg1 ?? 200_000)
  const rounds = Number(arg2 ?? 3)
  const results = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]))
  for (let round = 0; round < rounds; round++) {
    for (const variant of VARIANTS) {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--variant', variant, String(n)], { encoding: 'utf8' })
      results.get(variant)!.push(Number(out))
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const bare = median(results.get('bare')!)
  console.log(`N=${n} requests per run, ${rounds} rounds, median µs/request (all runs)`)
  for (const [variant, xs] of results) {
    const m = median(xs)
    const extra = variant === 'bare' ? '' : `  +${(m - bare).toFixed(2)} µs over bare`
    console.log(`${variant.padEnd(24)} ${m.toFixed(2)}  [${xs.map((x) => x.toFixed(2)).join(', ')}]${extra}`)
  }
}
