import type { Context } from 'hono'
import type { AppEnv } from '../../env.ts'
import { problems } from '../../kernel/problem.ts'
import { defineMiddleware, type StageMiddleware } from '../../pipeline/index.ts'

export interface BodyLimitOptions {
  /** Largest request body accepted, in bytes; larger ones are answered 413. */
  maxBytes: number
}

/**
 * True when the request arrived over HTTP/1.x on @hono/node-server (it passes the Node request as
 * `c.env.incoming`). There a request with neither `Content-Length` nor `Transfer-Encoding` has no body
 * (RFC 9112 §6.3), and asking for `c.req.raw.body` would make node-server build a full `Request`.
 */
function isHttp1OnNode(c: Context<AppEnv>): boolean {
  const incoming = (c.env as { incoming?: { httpVersionMajor?: unknown } } | undefined)?.incoming
  return incoming?.httpVersionMajor === 1
}

/**
 * Enforces a request body limit with a 413 problem, without buffering.
 *
 * - A `Content-Length` over the limit is refused before anything is read. A body with a
 *   `Content-Length` within the limit cannot grow past it (the runtime's HTTP parser stops there), so it
 *   passes untouched and node-server keeps its direct body read.
 * - A body without `Content-Length` (chunked, HTTP/2, a stream) is wrapped in a counting stream: the
 *   chunk that crosses the limit is never handed on, the read fails with the 413 problem, and the 413
 *   replaces whatever the handler made of that failure (for instance the validator's "malformed JSON"
 *   400).
 * - GET, HEAD and requests without a body cost a header lookup; their body is never touched.
 *
 * Hono's `bodyLimit()` is not used because it buffers every chunked body up front and reads
 * `c.req.raw.body` on every request, which costs node-server its fast path.
 */
export function bodyLimit(options: BodyLimitOptions): StageMiddleware {
  const { maxBytes } = options
  /** Requests whose body is being counted, and whether it went over. */
  const counting = new WeakMap<Context<AppEnv>, { exceeded: boolean }>()
  return defineMiddleware({
    name: 'bodyLimit',
    before: (c) => {
      const method = c.req.method
      if (method === 'GET' || method === 'HEAD') return
      const raw = c.req.raw
      const headers = raw.headers
      const length = headers.get('content-length')
      const chunked = headers.has('transfer-encoding')
      if (length !== null && !chunked) {
        const bytes = Number(length)
        if (Number.isInteger(bytes) && bytes >= 0) {
          if (bytes > maxBytes) throw problems.tooLarge(maxBytes)
          return
        }
      }
      if (!chunked && isHttp1OnNode(c)) return
      const body = raw.body
      if (body === null) return

      const state = { exceeded: false }
      let received = 0
      const counter = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          received += chunk.byteLength
          if (received > maxBytes) {
            state.exceeded = true
            // Errors the reader (the handler's body parse) and cancels the source; the chunk is dropped.
            controller.error(problems.tooLarge(maxBytes))
            return
          }
          controller.enqueue(chunk)
        },
      })
      counting.set(c, state)
      c.req.raw = new Request(raw.url, {
        method,
        headers,
        body: body.pipeThrough(counter),
        signal: raw.signal,
        duplex: 'half',
      } as RequestInit)
    },
    // Only counted bodies pay for this: the 413 replaces whatever the handler made of the failed
    // read, a response (say the validator's 400) or an error.
    around: (c, _scope, next) => {
      const state = counting.get(c)
      if (state === undefined) return next()
      const tooLarge = () => problems.tooLarge(maxBytes)
      const verdict = () => {
        if (state.exceeded) throw tooLarge()
      }
      const failed = (error: unknown): never => {
        throw state.exceeded ? tooLarge() : error
      }
      let outcome: ReturnType<typeof next>
      try {
        outcome = next()
      } catch (error) {
        return failed(error)
      }
      return outcome instanceof Promise ? outcome.then(verdict, failed) : verdict()
    },
  })
}
