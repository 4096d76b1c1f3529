import type { Context } from 'hono'
import type { AppEnv } from '../../env.ts'
import { systemClock, type Clock, type TimerHandle } from '../../kernel/clock.ts'
import { HttpProblem, problems } from '../../kernel/problem.ts'
import { defineMiddleware, type StageMiddleware } from '../../pipeline/index.ts'

export interface BodyLimitOptions {
  /** Largest request body accepted, in bytes; larger ones are answered 413. */
  maxBytes: number
  /** Bounds the drain of an over-limit body. Default: the system clock. */
  clock?: Clock
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
 * - The counting stream pulls from the body only as the handler reads it: a request answered without
 *   reading its body (a 401 after this middleware) leaves the body untouched for the runtime to drain
 *   or drop (workerd broke the connection when a pipe was left reading it).
 * - A body in a `Content-Encoding` other than `identity` (gzip, br) is refused with 415: no route
 *   takes compressed bodies, and inflating them would defeat the limit.
 * - GET, HEAD and requests without a body cost a header lookup; their body is never touched.
 *
 * Hono's `bodyLimit()` is not used because it buffers every chunked body up front and reads
 * `c.req.raw.body` on every request, which costs node-server its fast path.
 */
export function bodyLimit(options: BodyLimitOptions): StageMiddleware {
  const { maxBytes } = options
  const clock = options.clock ?? systemClock
  /** Requests whose body is being counted, and whether it went over. */
  const counting = new WeakMap<Context<AppEnv>, { exceeded: boolean }>()
  return defineMiddleware({
    name: 'bodyLimit',
    before: (c) => {
      const method = c.req.method
      if (method === 'GET' || method === 'HEAD') return
      const raw = c.req.raw
      const headers = raw.headers
      const encoding = headers.get('content-encoding')
      if (encoding !== null && encoding.trim().toLowerCase() !== 'identity') {
        throw new HttpProblem(415, { detail: `Request bodies in Content-Encoding ${encoding.slice(0, 40)} are not accepted; send them uncompressed` })
      }
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
      counting.set(c, state)
      c.req.raw = new Request(raw.url, {
        method,
        headers,
        body: countedBody(body, maxBytes, state, clock),
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

/** How much of an over-limit body is read and dropped before the 413, so the connection stays usable. */
const DRAIN_BYTES = 4 * 1024 * 1024
const DRAIN_MS = 1000

/**
 * Reads and drops the rest of an over-limit body, within `DRAIN_BYTES` and `DRAIN_MS`, then cancels
 * what is left. A connection whose request body was read to its end can carry the next request
 * (workerd kept a connection whose body was abandoned mid-way, and the client's next request on it
 * hung); past the bound the connection is given up instead.
 */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, clock: Clock): Promise<void> {
  const deadline = clock.now() + DRAIN_MS
  let dropped = 0
  let timer: TimerHandle | undefined
  const late = new Promise<'late'>((resolve) => (timer = clock.setTimeout(() => resolve('late'), DRAIN_MS)))
  try {
    while (dropped <= DRAIN_BYTES && clock.now() < deadline) {
      const next = await Promise.race([reader.read(), late])
      if (next === 'late' || next.done) break
      dropped += next.value.byteLength
    }
  } catch {
    // The client went away: nothing left to keep usable.
  } finally {
    clock.clearTimeout(timer)
    await reader.cancel().catch(() => {})
  }
}

/**
 * `body` read on demand, chunk by chunk, failing with the 413 problem at the chunk that crosses
 * `maxBytes` (which is never handed on) once the rest is drained (`drain`).
 */
function countedBody(body: ReadableStream<Uint8Array>, maxBytes: number, state: { exceeded: boolean }, clock: Clock): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
  let received = 0
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        reader ??= body.getReader()
        const { done, value } = await reader.read()
        if (done) return controller.close()
        received += value.byteLength
        if (received > maxBytes) {
          state.exceeded = true
          await drain(reader, clock)
          controller.error(problems.tooLarge(maxBytes))
          return
        }
        controller.enqueue(value)
      },
      cancel(reason) {
        return reader ? reader.cancel(reason) : body.cancel(reason)
      },
    },
    { highWaterMark: 0 },
  )
}
