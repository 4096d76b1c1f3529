import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, beforeEach } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'

/** What the scripted upstream received. */
export interface Recorded {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: any
}

export type Script = (req: IncomingMessage, res: ServerResponse, attempt: number) => void | Promise<void>

/**
 * A scripted OpenAI-compatible server on 127.0.0.1:0: each test installs the handler for its
 * requests (`upstream.script`). Registers its own `before`/`after`/`beforeEach` hooks: call it at the
 * top of a test file.
 */
export function scriptedUpstream() {
  const upstream = {
    server: undefined as Server | undefined,
    baseUrl: '',
    requests: [] as Recorded[],
    script: (() => {}) as Script,
    closed: [] as Promise<void>[],
  }
  before(async () => {
    upstream.server = createServer(async (req, res) => {
      let text = ''
      for await (const chunk of req) text += chunk
      upstream.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: text ? JSON.parse(text) : undefined })
      // 'close' on the response fires when the client drops the connection before the end.
      upstream.closed.push(once(res, 'close').then(() => {}))
      await upstream.script(req, res, upstream.requests.length)
    })
    upstream.server.listen(0, '127.0.0.1')
    await once(upstream.server, 'listening')
    const { port } = upstream.server.address() as AddressInfo
    upstream.baseUrl = `http://127.0.0.1:${port}/v1`
  })
  after(async () => {
    upstream.server?.closeAllConnections()
    upstream.server?.close()
  })
  beforeEach(() => {
    upstream.requests = []
    upstream.closed = []
  })
  return upstream
}

export const CHUNK = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-test' }

/** One `chat.completion.chunk` SSE frame; `null` for a chunk with `choices: []`. */
export function chunk(choice: Record<string, unknown> | null, extra: Record<string, unknown> = {}): string {
  const choices = choice === null ? [] : [{ index: 0, logprobs: null, finish_reason: null, ...choice }]
  return `data: ${JSON.stringify({ ...CHUNK, choices, ...extra })}\n\n`
}

export const USAGE = { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 }

export function startSse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  res.flushHeaders()
}

/** Waits (bounded) until `check()` holds: for network events, never for time to pass. */
export async function until(check: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 5_000; !check(); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(1)
  }
}

/** Resolves when the upstream saw its latest connection close, or fails after `ms`. */
export async function closedWithin(upstream: { closed: Promise<void>[] }, ms: number): Promise<void> {
  const timeout = delay(ms).then(() => {
    throw new Error(`upstream connection still open after ${ms} ms`)
  })
  await Promise.race([upstream.closed[upstream.closed.length - 1], timeout])
}
