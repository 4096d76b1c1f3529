// (p) The peer stack users would pick instead: Fastify 5 with what a production Fastify service puts in
// front of the same authenticated JSON route: @fastify/helmet, @fastify/cors, @fastify/rate-limit, its
// pino logger at info to a file, request ids (accepted and echoed), prom-client metrics by route
// template, and a bearer-key check against SHA-256 digests.
import { createHash, timingSafeEqual } from 'node:crypto'
import cors from '@fastify/cors'
import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import Fastify from 'fastify'
import { Counter, Histogram, Registry } from 'prom-client'
import { KEY } from '../harness.ts'

const ACCEPTABLE_ID = /^[A-Za-z0-9._-]{1,128}$/
const app = Fastify({
  logger: { level: 'info', file: process.env.BENCH_LOG_FILE ?? '/dev/null' },
  requestIdHeader: 'x-request-id',
  genReqId: () => crypto.randomUUID(),
})

await app.register(helmet)
await app.register(cors, { origin: ['https://app.example.com'] })
await app.register(rateLimit, { max: 1_000_000_000, timeWindow: 60_000 })

const registry = new Registry()
const requests = new Counter({ name: 'http_requests_total', help: 'requests', labelNames: ['method', 'route', 'status'], registers: [registry] })
const duration = new Histogram({ name: 'http_request_duration_seconds', help: 'duration', labelNames: ['method', 'route', 'status'], registers: [registry] })
app.addHook('onResponse', async (request, reply) => {
  const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }
  requests.inc(labels)
  duration.observe(labels, reply.elapsedTime / 1000)
})

const keys = new Map([[createHash('sha256').update(KEY).digest('hex'), 'bench']])
app.addHook('onRequest', async (request, reply) => {
  const inbound = request.headers['x-request-id']
  reply.header('x-request-id', typeof inbound === 'string' && ACCEPTABLE_ID.test(inbound) ? inbound : request.id)
  if (!request.url.startsWith('/api/')) return
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')
  const digest = match ? createHash('sha256').update(match[1]).digest() : null
  const user = digest && [...keys].find(([hex]) => timingSafeEqual(Buffer.from(hex, 'hex'), digest))?.[1]
  if (!user) return reply.code(401).type('application/problem+json').send({ status: 401, title: 'Unauthorized' })
  ;(request as typeof request & { user?: string }).user = user
})

app.get('/api/v1/me', async (request) => ({ id: (request as typeof request & { user?: string }).user }))
app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()))

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
process.on('SIGINT', () => void app.close().then(() => process.exit(0)))
