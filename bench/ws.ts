/**
 * WebSocket capacity on Node: our `/ws` (Hono + our Node upgrade helper, src/runtimes/node-websocket.ts,
 * + the hub, `hono`) next to a bare `ws` server doing the same job (`raw`), one variant per process, in
 * the same run. `bare` is the same Hono upgrade with empty events (memory only): the adapter's own share.
 *
 *   node bench/ws.ts [--connections=10000] [--subscribers=1000] [--rounds=50] [--repeat=1] [--semi-space=16]
 *
 * Measures the server's RSS per idle authenticated connection and the latency from "persist a message" to its arrival at every one of the
 * subscribers (p50/p99). RSS per connection is the growth (after a forced GC) from the first half
 * of the connections to all of them; `0→N` is the growth from none. V8 sizes its young generation from
 * the allocation rate, and the connect storm grows it by tens of MB that are then counted per
 * connection (`young` in the output): a per-process constant, not per-connection state. So every
 * server runs with the same fixed young generation, `--semi-space` MB per semi-space (0: V8's
 * adaptive default), and the first half of the connections touches all of it. Raises `ulimit -n` to the hard limit for itself and the servers (each side holds one fd per connection).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { getHeapSpaceStatistics } from 'node:v8'
import WebSocket, { WebSocketServer } from 'ws'

const args = Object.fromEntries(
  process.argv.slice(2).map((arg) => {
    const [key, value = 'true'] = arg.replace(/^--/, '').split('=')
    return [key, value]
  }),
)
const SELF = fileURLToPath(import.meta.url)
const NODE = process.execPath
const KEY = 'bench-key-0123456789abcdef'
const CONNECTIONS = Number(args.connections ?? 10_000)
const SUBSCRIBERS = Math.min(Number(args.subscribers ?? 1_000), CONNECTIONS)
const ROUNDS = Number(args.rounds ?? 50)
const REPEAT = Number(args.repeat ?? 1)
const SEMI_SPACE_MB = Number(args['semi-space'] ?? 16)

const now = () => performance.timeOrigin + performance.now()

// ---------------------------------------------------------------- servers (one per process)

function memoryStats() {
  ;(globalThis as { gc?: () => void }).gc?.()
  ;(globalThis as { gc?: () => void }).gc?.()
  const { rss, heapUsed, heapTotal } = process.memoryUsage()
  const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0
  return { rss, heapUsed, heapTotal, newSpace }
}

async function serveRaw(): Promise<number> {
  const subscribers = new Set<WebSocket>()
  const wss = new WebSocketServer({ noServer: true, maxPayload: 65_536, clientTracking: false })
  const server = createServer((req, res) => {
    if (req.url === '/stats') return void res.end(JSON.stringify(memoryStats()))
    if (req.url?.startsWith('/publish')) {
      const t0 = new URL(req.url, 'http://x').searchParams.get('t0')
      const text = JSON.stringify({ type: 'message', conversation_id: 'c', message: { content: t0 } })
      for (const ws of subscribers) ws.send(text)
      return void res.end('{}')
    }
    res.statusCode = 404
    res.end()
  })
  server.on('upgrade', (req, socket, head) => {
    if (req.headers.authorization !== `Bearer ${KEY}`) return void socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n')
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data))
        if (frame.type === 'subscribe') {
          subscribers.add(ws)
          ws.send(JSON.stringify({ type: 'subscribed', conversation_id: frame.conversation_id }))
        }
      })
      ws.on('close', () => subscribers.delete(ws))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

/** `bare`: the same Hono app and upgrade helper with empty events, i.e. the adapter's own cost. */
async function serveHono(bare: boolean): Promise<number> {
  const { serve } = await import('@hono/node-server')
  const { Hono } = await import('hono')
  const { Registry } = await import('prom-client')
  const { sha256Hex } = await import('../src/config/index.ts')
  const { EventBus, withMessageEvents } = await import('../src/events/index.ts')
  const { Hub, wsRoutes } = await import('../src/features/ws/index.ts')
  const { Authenticator } = await import('../src/middleware/auth/authenticator.ts')
  const { createNodeWebSocket } = await import('../src/runtimes/node-websocket.ts')
  const { FakeConversationStore, FakeChatGateway } = await import('../test/ws/harness.ts')
  type AppEnv = import('../src/env.ts').AppEnv

  const bus = new EventBus<import('../src/events/index.ts').PersistenceEvents>()
  const store = withMessageEvents(new FakeConversationStore(), bus)
  await store.create('bench', { id: 'c' })
  const hub = new Hub({ gateway: new FakeChatGateway(store), conversations: store, events: bus, registry: new Registry(), burst: 100 })
  const authenticator = new Authenticator({ mode: 'api_key', api_keys: [{ user: 'bench', sha256: await sha256Hex(KEY) }] })
  const nodeWs = createNodeWebSocket({ maxPayload: 65_536 })
  const app = new Hono<AppEnv>()
  app.use(async (c, next) => {
    c.set('requestId', 'bench')
    await next()
  })
  const routedHub = bare ? ({ connect: () => ({}) } as unknown as typeof hub) : hub
  app.route('/', wsRoutes({ upgradeWebSocket: nodeWs.upgradeWebSocket, hub: routedHub, authenticator, allowedOrigins: [] }))
  app.get('/stats', (c) => c.json(memoryStats()))
  app.get('/publish', async (c) => {
    await store.appendMessage('bench', 'c', { role: 'assistant', content: c.req.query('t0') ?? '' })
    return c.json({})
  })
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 })
  nodeWs.websocket.attach(server, app.fetch)
  await new Promise<void>((resolve) => server.once('listening', resolve))
  return (server.address() as AddressInfo).port
}

// ---------------------------------------------------------------- load (the parent process)

function startServer(variant: string): Promise<{ child: ChildProcess; port: number }> {
  const youngGeneration = SEMI_SPACE_MB > 0 ? `--min-semi-space-size=${SEMI_SPACE_MB} --max-semi-space-size=${SEMI_SPACE_MB}` : ''
  const child = spawn('bash', ['-c', `ulimit -n $(ulimit -Hn) && exec "${NODE}" --expose-gc ${youngGeneration} "${SELF}" --serve=${variant}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (chunk) => resolve({ child, port: Number(String(chunk).trim()) }))
    child.once('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)))
  })
}

type MemoryStats = ReturnType<typeof memoryStats>

async function stats(port: number): Promise<MemoryStats> {
  return (await fetch(`http://127.0.0.1:${port}/stats`)).json()
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]
}

async function measure(variant: string, fanOut: boolean) {
  const { child, port } = await startServer(variant)
  const url = `ws://127.0.0.1:${port}/ws`
  const sockets: WebSocket[] = []
  try {
    await stats(port)
    const before = await stats(port)
    const half = Math.floor(CONNECTIONS / 2)
    let middle = before
    for (let i = 0; i < CONNECTIONS; i += 250) {
      if (i >= half && middle === before) {
        await new Promise((resolve) => setTimeout(resolve, 500))
        middle = await stats(port)
      }
      const batch = []
      for (let j = i; j < Math.min(CONNECTIONS, i + 250); j++) {
        const ws = new WebSocket(url, { headers: { authorization: `Bearer ${KEY}` }, perMessageDeflate: false })
        sockets.push(ws)
        batch.push(new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject))))
      }
      await Promise.all(batch)
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
    const after = await stats(port)
    const memory = {
      variant,
      perConnection: (after.rss - middle.rss) / (CONNECTIONS - half),
      heapPerConnection: (after.heapUsed - middle.heapUsed) / (CONNECTIONS - half),
      allInPerConnection: (after.rss - before.rss) / CONNECTIONS,
      youngGrowth: after.newSpace - before.newSpace,
      rss: after.rss,
    }

    // Fan-out: the first SUBSCRIBERS connections follow one conversation.
    const arrivals: number[] = []
    if (!fanOut) return { ...memory, p50: NaN, p99: NaN }
    let pending = 0
    let roundDone: (() => void) | undefined
    await Promise.all(
      sockets.slice(0, SUBSCRIBERS).map(
        (ws) =>
          new Promise<void>((resolve) => {
            ws.on('message', (data) => {
              const frame = JSON.parse(String(data))
              if (frame.type === 'subscribed') return resolve()
              if (frame.type !== 'message') return
              arrivals.push(now() - Number(frame.message.content))
              if (--pending === 0) roundDone?.()
            })
            ws.send(JSON.stringify({ type: 'subscribe', conversation_id: 'c' }))
          }),
      ),
    )
    for (let round = 0; round < ROUNDS + 5; round++) {
      if (round === 5) arrivals.length = 0 // warm-up rounds
      pending = SUBSCRIBERS
      const done = new Promise<void>((resolve) => (roundDone = resolve))
      await (await fetch(`http://127.0.0.1:${port}/publish?t0=${now()}`)).arrayBuffer()
      await done
    }
    arrivals.sort((a, b) => a - b)
    return {
      ...memory,
      p50: percentile(arrivals, 50),
      p99: percentile(arrivals, 99),
    }
  } finally {
    for (const ws of sockets) ws.terminate()
    child.kill('SIGKILL')
  }
}

async function main() {
  if (args.serve) {
    const port = args.serve === 'raw' ? await serveRaw() : await serveHono(args.serve === 'bare')
    process.stdout.write(`${port}\n`)
    return
  }
  if (!args.child) {
    // The load generator holds as many sockets as the server: raise its limit too.
    const child = spawn('bash', ['-c', `ulimit -n $(ulimit -Hn) && exec "${NODE}" "${SELF}" --child ${process.argv.slice(2).join(' ')}`], {
      stdio: 'inherit',
    })
    child.on('exit', (code) => process.exit(code ?? 1))
    return
  }
  console.log(`connections=${CONNECTIONS} subscribers=${SUBSCRIBERS} rounds=${ROUNDS} semi-space=${SEMI_SPACE_MB > 0 ? `${SEMI_SPACE_MB} MB` : 'V8 default'}`)
  const results: Awaited<ReturnType<typeof measure>>[] = []
  for (let i = 0; i < REPEAT; i++) for (const variant of ['raw', 'bare', 'hono']) results.push(await measure(variant, variant !== 'bare'))
  const kb = (bytes: number) => (bytes / 1024).toFixed(2)
  for (const r of results) {
    console.log(
      `${r.variant.padEnd(5)} rss/conn ${kb(r.perConnection)} KB (0→N ${kb(r.allInPerConnection)} KB, young +${(r.youngGrowth / 1048576).toFixed(0)} MB)  heap/conn ${kb(r.heapPerConnection)} KB  rss ${(r.rss / 1048576).toFixed(0)} MB  fan-out p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms`,
    )
  }
  const avg = (variant: string, key: 'perConnection' | 'p50' | 'p99') => {
    const rows = results.filter((r) => r.variant === variant)
    return rows.reduce((sum, r) => sum + r[key], 0) / rows.length
  }
  console.log(
    `ratio hono/raw: rss per connection ${(avg('hono', 'perConnection') / avg('raw', 'perConnection')).toFixed(2)}x (target <= 1.3x), ` +
      `fan-out p50 ${(avg('hono', 'p50') / avg('raw', 'p50')).toFixed(2)}x, p99 ${(avg('hono', 'p99') / avg('raw', 'p99')).toFixed(2)}x`,
  )
}

await main()
