/**
 * SSE capacity on Node: N concurrent streams × M events each, through
 *   raw       — a bare node:http server writing SSE frames,
 *   hono      — a bare Hono `streamSSE` handler calling `writeSSE` per event,
 *   hono-batch — a bare Hono `streamSSE` handler writing all frames at once (two writes a stream, as
 *               the chat's FrameWriter does with a provider that never pauses): the floor for the rest,
 *   chat      — the chat routes, service and job log alone (fixed user, no middleware chain),
 *   pipeline  — the whole app (createApp middleware chain) + the chat service, job log and SSE route,
 * all fed by the same async generator of M one-word deltas (a fake provider with no pacing), plus a
 * final `done` event. One variant per server process; the client runs in this process. Reports
 * delivered events/s, server CPU µs per event (user+system of the server process during the load),
 * peak RSS of the server, and each variant's CPU per event relative to raw.
 *
 *   node_modules/.bin/node bench/sse.ts [--streams 1000] [--events 100] [--rounds 2] [--variants raw,pipeline]
 *
 * To profile one server: `node --cpu-prof --cpu-prof-dir=/tmp/prof bench/sse.ts --variants pipeline`
 * (the forked server inherits the flag and writes its own profile).
 *
 * Not a test: numbers depend on the machine (and on the other jobs running on it).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { request, Agent, createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { createAdaptorServer } from '@hono/node-server'
import { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import pino from 'pino'
import type { AppEnv } from '../src/env.ts'

const VARIANTS = ['raw', 'hono', 'hono-batch', 'chat', 'pipeline'] as const
type Variant = (typeof VARIANTS)[number]
const KEY = 'bench-key-0123456789abcdef'

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '1000' },
    events: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '2' },
    variants: { type: 'string', default: VARIANTS.join(',') },
    serve: { type: 'string' },
  },
})
const STREAMS = Number(values.streams)
const EVENTS = Number(values.events)

async function* deltas(count: number): AsyncGenerator<string> {
  for (let i = 0; i < count; i++) yield 'w '
}

// ---- servers (child process) ----------------------------------------------------------------------

async function buildServer(variant: Variant): Promise<Server> {
  if (variant === 'raw') {
    return createServer(async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' })
      res.write(': stream-open\n\n')
      let seq = 0
      for await (const delta of deltas(EVENTS)) res.write(`event: message\nid: ${++seq}\ndata: ${JSON.stringify({ delta })}\n\n`)
      res.end(`event: done\nid: ${++seq}\ndata: {"status":"complete"}\n\n`)
    })
  }
  if (variant === 'hono') {
    const app = new Hono().post('/api/v1/chat/stream', (c) =>
      streamSSE(c, async (stream) => {
        let seq = 0
        for await (const delta of deltas(EVENTS)) await stream.writeSSE({ event: 'message', id: String(++seq), data: JSON.stringify({ delta }) })
        await stream.writeSSE({ event: 'done', id: String(++seq), data: '{"status":"complete"}' })
      }),
    )
    return createAdaptorServer({ fetch: app.fetch }) as Server
  }
  if (variant === 'hono-batch') {
    const app = new Hono().post('/api/v1/chat/stream', (c) =>
      streamSSE(c, async (stream) => {
        await stream.write(': stream-open\n\n')
        let seq = 0
        let out = ''
        for await (const delta of deltas(EVENTS)) out += `event: message\nid: ${++seq}\ndata: ${JSON.stringify({ delta })}\n\n`
        out += `event: done\nid: ${++seq}\ndata: {"status":"complete"}\n\n`
        await stream.write(out)
      }),
    )
    return createAdaptorServer({ fetch: app.fetch }) as Server
  }
  const { createChat } = await import('../src/features/chat/index.ts')
  const { createMemoryStores } = await import('../src/storage/memory/index.ts')
  const { createApp } = await import('../src/app.ts')
  const { loadConfig } = await import('../src/config/index.ts')
  const { buildDeps } = await import('../src/deps.ts')
  const config = await loadConfig({ env: { API_KEYS: `bench:${KEY}`, RATE_LIMIT_ENABLED: 'false' } })
  const logger = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false }))
  const stores = createMemoryStores({ clock: { now: Date.now } })
  const chat = createChat({
    config,
    conversations: stores.conversations,
    memory: stores.memory,
    logger,
    provider: {
      name: 'bench',
      defaultModel: 'bench',
      async *stream() {
        for await (const delta of deltas(EVENTS)) yield { type: 'text', delta }
        yield { type: 'finish', reason: 'stop', model: 'bench' }
      },
    },
  })
  if (variant === 'chat') {
    // The chat feature alone: no middleware chain but a fixed user, to split app cost from chat cost.
    const bare = new Hono<AppEnv>()
    bare.use((c, next) => {
      c.set('user', { id: 'bench' })
      c.set('responseHeaders', {})
      c.set('requestId', 'bench')
      return next()
    })
    bare.route('/api/bench', chat.routes)
    return createAdaptorServer({ fetch: bare.fetch }) as Server
  }
  const deps = buildDeps({ config, logger, stores })
  deps.lifecycle.markReady()
  const app = createApp(deps)
  // Under /api/* so body limit, timeout and auth apply; its own prefix so it never collides with routes createApp may mount.
  app.route('/api/bench', chat.routes)
  return createAdaptorServer({ fetch: app.fetch }) as Server
}

async function serveVariant(variant: Variant) {
  const server = await buildServer(variant)
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
    process.send!({ port: (server.address() as AddressInfo).port })
  })
  process.on('message', (message) => {
    if (message === 'usage') {
      const cpu = process.cpuUsage()
      process.send!({ cpuMicros: cpu.user + cpu.system, maxRssKb: process.resourceUsage().maxRSS })
    } else if (message === 'exit') {
      server.closeAllConnections()
      server.close(() => process.exit(0))
    }
  })
}

// ---- client (this process) ------------------------------------------------------------------------

function ask<T>(child: ChildProcess, message: string): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (reply) => resolve(reply as T))
    child.send(message)
  })
}

function openStream(agent: Agent, port: number, variant: Variant): Promise<{ events: number; done: boolean; text: string }> {
  const body = JSON.stringify({ message: 'bench' })
  const path = variant === 'pipeline' || variant === 'chat' ? '/api/bench/chat/stream' : '/api/v1/chat/stream'
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: '127.0.0.1', port, method: 'POST', path, headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`))
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => {
          const frames = text.split('\n\n').filter((frame) => frame.startsWith('event: '))
          const delivered = frames.filter((frame) => frame.startsWith('event: message')).map((frame) => JSON.parse(/^data: (.*)$/m.exec(frame)![1]).delta).join('')
          resolve({ events: frames.length, done: frames.at(-1)?.startsWith('event: done') ?? false, text: delivered })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

interface Result {
  variant: Variant
  seconds: number
  events: number
  eventsPerSecond: number
  cpuMicrosPerEvent: number
  peakRssMb: number
}

async function measure(variant: Variant): Promise<Result> {
  const child = fork(new URL(import.meta.url).pathname, ['--serve', variant, '--events', String(EVENTS)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  child.on('exit', (code, signal) => { if (code) console.error(`${variant} server exited with ${code ?? signal}`) })
  const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', (m) => resolve(m as { port: number })))
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity })
  try {
    await openStream(agent, port, variant) // warm-up
    const before = await ask<{ cpuMicros: number }>(child, 'usage')
    const started = performance.now()
    const results = await Promise.all(Array.from({ length: STREAMS }, () => openStream(agent, port, variant)))
    const seconds = (performance.now() - started) / 1000
    const after = await ask<{ cpuMicros: number; maxRssKb: number }>(child, 'usage')
    const expected = 'w '.repeat(EVENTS)
    const complete = results.filter((r) => r.done && r.events === EVENTS + 1 && r.text === expected).length
    if (complete !== STREAMS) throw new Error(`${variant}: only ${complete}/${STREAMS} streams delivered every event`)
    const events = results.reduce((sum, r) => sum + r.events, 0)
    return {
      variant,
      seconds,
      events,
      eventsPerSecond: events / seconds,
      cpuMicrosPerEvent: (after.cpuMicros - before.cpuMicros) / events,
      peakRssMb: after.maxRssKb / 1024,
    }
  } finally {
    agent.destroy()
    const exited = new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null)))
    child.send('exit')
    await exited
  }
}

async function main() {
  const rounds = Number(values.rounds)
  const variants = values.variants.split(',').map((v) => v.trim()) as Variant[]
  const unknown = variants.filter((v) => !VARIANTS.includes(v))
  if (unknown.length > 0) throw new Error(`unknown variants: ${unknown.join(', ')} (known: ${VARIANTS.join(', ')})`)
  const all: Result[] = []
  console.log(`SSE bench: ${STREAMS} concurrent streams × ${EVENTS} events (+1 done), ${rounds} round(s), node ${process.version}`)
  for (let round = 1; round <= rounds; round++) {
    for (const variant of variants) {
      const result = await measure(variant)
      all.push(result)
      console.log(
        `round ${round} ${variant.padEnd(10)} ${result.events} events in ${result.seconds.toFixed(2)} s = ${Math.round(result.eventsPerSecond).toLocaleString('en')} events/s, ` +
          `server CPU ${result.cpuMicrosPerEvent.toFixed(2)} µs/event, peak RSS ${result.peakRssMb.toFixed(0)} MB`,
      )
    }
  }
  const best = (variant: Variant) => Math.min(...all.filter((r) => r.variant === variant).map((r) => r.cpuMicrosPerEvent))
  const raw = variants.includes('raw') ? best('raw') : NaN
  console.log('\nbest CPU per event (ratio to raw node:http):')
  for (const variant of variants) console.log(`  ${variant.padEnd(10)} ${best(variant).toFixed(2)} µs  ${(best(variant) / raw).toFixed(2)}×`)
}

if (values.serve) await serveVariant(values.serve as Variant)
else await main()
