/**
 * SSE capacity on Node: N concurrent streams × M events each, through
 *   raw       — a bare node:http server writing SSE frames,
 *   hono      — a bare Hono `streamSSE` handler calling `writeSSE` per event,
 *   hono-batch — a bare Hono `streamSSE` handler writing all frames at once (two writes a stream, as
 *               the chat's FrameWriter does with a provider that never pauses): the floor for the rest,
 *   chat      — the chat routes, service and job log alone (fixed user, no middleware chain),
 *   pipeline  — the whole app (createApp middleware chain) + the chat service, job log and SSE route,
 *   openai    — the whole app's `POST /v1/chat/completions` (`stream: true`, `include_usage`): the
 *               OpenAI-compatible path, stateless (no job log), one `chat.completion.chunk` per delta
 *               (and, instead of `done`, the usage chunk and `[DONE]`),
 * all sending the same M deltas plus a final `done` event: the words of the built-in provider's reply
 * (no pacing delay). The pipeline variants run that provider itself; the others iterate one async
 * generator over the same words. The message is sized so the reply is exactly M words. One variant
 * per server process; the client runs in this process.
 *
 * raw, hono and hono-batch write one SSE frame per delta: they are the baselines issue 4 defines. The
 * chat variants coalesce deltas that queue up while a write is pending into one frame (as the issue
 * allows; see FrameWriter in src/features/chat/sse.ts), so frame counts differ between variants. An
 * "event" here is therefore a delivered delta, counted from the text: every stream must deliver the
 * whole reply text and end with `done`, or the run fails. Reports delivered deltas/s, server CPU µs
 * per delta (user+system of the server process during the load), frames per stream, peak RSS of
 * the server, and each variant's CPU per delta relative to raw.
 *
 *   node_modules/.bin/node bench/sse.ts [--streams 1000] [--events 100] [--rounds 2] [--warmup 3] [--batches 3] [--variants raw,pipeline]
 *   node_modules/.bin/node bench/sse.ts --variants pipeline --set LOG_LEVEL=warn   # the app without its access log
 *   node_modules/.bin/node bench/sse.ts --variants pipeline,openai --pace 15         # a model typing: one frame per delta
 *
 * A batch is --streams concurrent streams. Each server first serves --warmup unmeasured batches
 * (`--warmup 0` measures a cold process: JIT compilation then counts as streaming cost), then
 * --batches measured ones, one after another, whose CPU time is summed: one batch takes ~0.3 s,
 * too short to measure alone on a shared machine.
 *
 * To profile one server: `node --cpu-prof --cpu-prof-dir=/tmp/prof bench/sse.ts --variants pipeline`
 * (the forked server inherits the flag and writes its own profile).
 *
 * Not a test: numbers depend on the machine (and on the other jobs running on it).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { openSync } from 'node:fs'
import { request, Agent, createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { createAdaptorServer } from '@hono/node-server'
import { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import pino from 'pino'
import type { AppEnv } from '../src/env.ts'
import { createBuiltinProvider } from '../src/providers/builtin/index.ts'
import { KEY, rotated, settingsFrom } from './harness.ts'

const VARIANTS = ['raw', 'hono', 'hono-batch', 'chat', 'pipeline', 'openai'] as const
type Variant = (typeof VARIANTS)[number]

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '1000' },
    events: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '2' },
    /** Batches of --streams run before the measured one, so JIT tiering is not counted. */
    warmup: { type: 'string', default: '3' },
    /** Measured batches of --streams, one after another: CPU and time are summed over them. */
    batches: { type: 'string', default: '3' },
    variants: { type: 'string', default: VARIANTS.join(',') },
    /** ms the app variants' built-in waits before each delta (the shipped 15 ms looks like a model typing); raw and hono never wait. */
    pace: { type: 'string', default: '0' },
    /** Settings for the chat and pipeline variants' config, NAME=VALUE (repeatable), e.g. `--set LOG_LEVEL=warn`. */
    set: { type: 'string', multiple: true, default: [] },
    serve: { type: 'string' },
  },
})
const STREAMS = Number(values.streams)
const EVENTS = Number(values.events)
const WARMUP = Number(values.warmup)
const BATCHES = Number(values.batches)

/** A user message whose built-in reply is exactly `events` words (the reply quotes it back). */
async function benchMessage(events: number): Promise<{ message: string; words: string[] }> {
  const replyWords = async (message: string) => {
    const words: string[] = []
    const stream = builtin.stream({ messages: [{ role: 'user', content: message }], signal: new AbortController().signal })
    for await (const event of stream) if (event.type === 'text') words.push(event.delta)
    return words
  }
  const fixed = (await replyWords('w')).length - 1
  if (events <= fixed) throw new Error(`--events must be more than ${fixed}`)
  const message = Array.from({ length: events - fixed }, () => 'w').join(' ')
  const words = await replyWords(message)
  if (words.length !== events) throw new Error(`the built-in reply has ${words.length} words, not ${events}`)
  return { message, words }
}

const builtin = createBuiltinProvider({ chunkDelayMs: 0 })
/** What the app variants' servers answer with: deltas queue up unless paced, and are then coalesced into fewer frames. */
const served = createBuiltinProvider({ chunkDelayMs: Number(values.pace) })
const { message: MESSAGE, words: WORDS } = await benchMessage(EVENTS)

async function* deltas(): AsyncGenerator<string> {
  for (const word of WORDS) yield word
}

// ---- servers (child process) ----------------------------------------------------------------------

async function buildServer(variant: Variant): Promise<Server> {
  if (variant === 'raw') {
    return createServer(async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' })
      res.write(': stream-open\n\n')
      let seq = 0
      for await (const delta of deltas()) res.write(`event: message\nid: ${++seq}\ndata: ${JSON.stringify({ delta })}\n\n`)
      res.end(`event: done\nid: ${++seq}\ndata: {"status":"complete"}\n\n`)
    })
  }
  if (variant === 'hono') {
    const app = new Hono().post('/api/v1/chat/stream', (c) =>
      streamSSE(c, async (stream) => {
        let seq = 0
        for await (const delta of deltas()) await stream.writeSSE({ event: 'message', id: String(++seq), data: JSON.stringify({ delta }) })
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
        for await (const delta of deltas()) out += `event: message\nid: ${++seq}\ndata: ${JSON.stringify({ delta })}\n\n`
        out += `event: done\nid: ${++seq}\ndata: {"status":"complete"}\n\n`
        await stream.write(out)
      }),
    )
    return createAdaptorServer({ fetch: app.fetch }) as Server
  }
  const { createChat } = await import('../src/features/chat/index.ts')
  const { createMemoryStores } = await import('../src/storage/memory/index.ts')
  const { loadConfig } = await import('../src/config/index.ts')
  const config = await loadConfig({ env: { API_KEYS: `bench:${KEY}`, RATE_LIMIT_ENABLED: 'false', ...settingsFrom(values.set) } })
  // The process entrypoints' destination (src/runtimes/process.ts), writing to /dev/null.
  const logger = pino({ level: 'info' }, pino.destination({ dest: openSync('/dev/null', 'w'), sync: false }))
  const stores = createMemoryStores({ clock: { now: Date.now } })
  const chat = createChat({
    config,
    conversations: stores.conversations,
    memory: stores.memory,
    logger,
    provider: served,
  })
  if (variant === 'chat') {
    // The chat feature alone: no middleware chain but a fixed user, to split app cost from chat cost.
    const bare = new Hono<AppEnv>()
    bare.use((c, next) => {
      c.set('user', { id: 'bench' })
      c.set('requestId', 'bench')
      return next()
    })
    bare.route('/api/bench', chat.routes)
    return createAdaptorServer({ fetch: bare.fetch }) as Server
  }
  // Imported only here, so the other variants do not depend on the app's wiring.
  const { createApp } = await import('../src/app.ts')
  const { buildDeps } = await import('../src/deps.ts')
  // The same built-in behind the app's own routes (`/v1` in the openai variant).
  const deps = buildDeps({ config, logger, stores, provider: served })
  deps.lifecycle.markReady()
  // Under /api/* so body limit, timeout and auth apply; its own prefix so it never collides with
  // the app's own routes; through `routes` so the whole chain runs.
  const app = createApp(deps).route('/', new Hono<AppEnv>().route('/api/bench', chat.routes))
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

/** An OpenAI stream's `data:` frames, the text of their deltas, and whether it ended with `[DONE]`. */
function readCompletionChunks(text: string): { frames: number; done: boolean; text: string } {
  const frames = text.split('\n\n').filter((frame) => frame.startsWith('data: '))
  const chunks = frames.slice(0, -1).map((frame) => JSON.parse(frame.slice(6)))
  const delivered = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')
  return { frames: frames.length, done: frames.at(-1) === 'data: [DONE]' && chunks.at(-1)?.usage !== undefined, text: delivered }
}

const OPENAI_BODY = JSON.stringify({ model: 'builtin', messages: [{ role: 'user', content: MESSAGE }], stream: true, stream_options: { include_usage: true } })

function openStream(agent: Agent, port: number, variant: Variant): Promise<{ frames: number; done: boolean; text: string }> {
  const body = variant === 'openai' ? OPENAI_BODY : JSON.stringify({ message: MESSAGE })
  const path = variant === 'openai' ? '/v1/chat/completions' : variant === 'pipeline' || variant === 'chat' ? '/api/bench/chat/stream' : '/api/v1/chat/stream'
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: '127.0.0.1', port, method: 'POST', path, headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`))
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => {
          if (variant === 'openai') return resolve(readCompletionChunks(text))
          const frames = text.split('\n\n').filter((frame) => frame.startsWith('event: '))
          const delivered = frames.filter((frame) => frame.startsWith('event: message')).map((frame) => JSON.parse(/^data: (.*)$/m.exec(frame)![1]).delta).join('')
          const ids = frames.map((frame) => Number(/^id: (\d+)$/m.exec(frame)?.[1]))
          if (!ids.every((id, i) => i === 0 || id > ids[i - 1])) reject(new Error(`${variant}: ids do not increase strictly: ${ids.join(',')}`))
          resolve({ frames: frames.length, done: frames.at(-1)?.startsWith('event: done') ?? false, text: delivered })
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
  /** Deltas delivered: M per stream, checked against the text. */
  events: number
  framesPerStream: number
  eventsPerSecond: number
  cpuMicrosPerEvent: number
  peakRssMb: number
}

async function measure(variant: Variant): Promise<Result> {
  const settings = values.set.flatMap((pair) => ['--set', pair])
  const child = fork(new URL(import.meta.url).pathname, ['--serve', variant, '--events', String(EVENTS), '--pace', values.pace, ...settings], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  child.on('exit', (code, signal) => { if (code) console.error(`${variant} server exited with ${code ?? signal}`) })
  const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', (m) => resolve(m as { port: number })))
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity })
  try {
    // Warm-up: the same load, unmeasured, until the code has tiered up. A fresh process compiles on
    // background threads (counted in its CPU time) during its first batches, which would charge the
    // variants with more code (the app) for start-up rather than for streaming. Measured per batch
    // (`--warmup K --batches 1` for K = 0..7): raw settles after 2 batches (3.0 → 2.0 → 1.8 µs per
    // delta), the pipeline after 3 (6.2 → 3.7 → 2.8 → 2.6 µs).
    for (let batch = 0; batch < WARMUP; batch++) await Promise.all(Array.from({ length: STREAMS }, () => openStream(agent, port, variant)))
    const before = await ask<{ cpuMicros: number }>(child, 'usage')
    const started = performance.now()
    const results: Awaited<ReturnType<typeof openStream>>[] = []
    for (let batch = 0; batch < BATCHES; batch++) results.push(...(await Promise.all(Array.from({ length: STREAMS }, () => openStream(agent, port, variant)))))
    const seconds = (performance.now() - started) / 1000
    const after = await ask<{ cpuMicros: number; maxRssKb: number }>(child, 'usage')
    const expected = WORDS.join('')
    const complete = results.filter((r) => r.done && r.text === expected).length
    if (complete !== results.length) throw new Error(`${variant}: only ${complete}/${results.length} streams delivered the whole text and done`)
    const events = results.length * EVENTS
    return {
      variant,
      seconds,
      events,
      framesPerStream: results.reduce((sum, r) => sum + r.frames, 0) / results.length,
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
  console.log(
    `SSE bench: ${STREAMS} concurrent streams × ${EVENTS} deltas (+1 done); per round and variant a fresh server, ` +
      `${WARMUP} warm-up batch(es), ${BATCHES} measured batch(es); ${rounds} round(s), app deltas paced ${values.pace} ms, node ${process.version}`,
  )
  for (let round = 1; round <= rounds; round++) {
    // Rotated as in bench/harness.ts: no variant always holds the same place in the sequence.
    for (const variant of rotated(variants, round)) {
      const result = await measure(variant)
      all.push(result)
      console.log(
        `round ${round} ${variant.padEnd(10)} ${result.events} deltas in ${result.seconds.toFixed(2)} s = ${Math.round(result.eventsPerSecond).toLocaleString('en')} deltas/s, ` +
          `server CPU ${result.cpuMicrosPerEvent.toFixed(2)} µs/delta, ${result.framesPerStream.toFixed(1)} frames/stream, peak RSS ${result.peakRssMb.toFixed(0)} MB`,
      )
    }
  }
  const cpu = (variant: Variant) => all.filter((r) => r.variant === variant).map((r) => r.cpuMicrosPerEvent).sort((a, b) => a - b)
  const median = (sorted: number[]) => (sorted[(sorted.length - 1) >> 1] + sorted[sorted.length >> 1]) / 2
  const raw = variants.includes('raw') ? cpu('raw') : []
  console.log('\nCPU per delta: best, median [range] (ratios to raw node:http: best/best, median/median):')
  for (const variant of variants) {
    const own = cpu(variant)
    console.log(
      `  ${variant.padEnd(10)} ${own[0].toFixed(2)} µs, ${median(own).toFixed(2)} µs [${own[0].toFixed(2)}–${own.at(-1)!.toFixed(2)}]  ` +
        (raw.length > 0 ? `${(own[0] / raw[0]).toFixed(2)}×, ${(median(own) / median(raw)).toFixed(2)}×` : ''),
    )
  }
  if (variants.includes('openai') && variants.includes('pipeline')) {
    const [openai, chat] = [cpu('openai'), cpu('pipeline')]
    console.log(`\n/v1/chat/completions against /api/v1/chat/stream, CPU per delivered delta: ${(openai[0] / chat[0]).toFixed(2)}× best, ${(median(openai) / median(chat)).toFixed(2)}× median`)
  }
}

if (values.serve) await serveVariant(values.serve as Variant)
else await main()
