import type { Context } from 'hono'

/** What is known about a response once its body has been delivered (or abandoned). */
export interface ResponseEnd {
  /** Body bytes handed to the runtime. */
  bytes: number
  /** `performance.now()` when the body ended; for streams this is the end of the stream, not the headers. */
  endedAt: number
  /** The body was a stream (SSE, chunked) followed to its end. */
  streamed: boolean
  /** The client went away (or the stream failed) before the body ended. */
  aborted: boolean
}

type Listener = (end: ResponseEnd) => void

/**
 * Body sizes of responses whose body was a string, recorded by the code that built them
 * (`src/http/response.ts` `send()`), so the fast path never has to read `res.body`: on
 * @hono/node-server reading it turns the lightweight Response into a full one.
 */
const knownSizes = new WeakMap<Response, number>()

/** Records the byte size of a response built from a string (or no) body. */
export function noteBodySize(res: Response, body: string | null): void {
  knownSizes.set(res, body === null ? 0 : utf8Length(body))
}

/** UTF-8 length without allocating (`TextEncoder` would copy the string). */
export function utf8Length(text: string): number {
  let bytes = text.length
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) continue
    if (code < 0x800) bytes += 1
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      // A surrogate pair: 2 UTF-16 units, 4 UTF-8 bytes.
      bytes += 2
      i++
    } else bytes += 2
  }
  return bytes
}

interface Watch {
  listeners: Listener[]
  bytes: number
  streamed: boolean
  ended: boolean
}

/** Responses this module wrapped, so a second observer joins the first instead of wrapping again. */
const watches = new WeakMap<Response, Watch>()

const STREAM_TYPES = /^(text\/event-stream|application\/(x-)?ndjson)/i

/** Hono's `streamSSE`/`streamText` and the AI SDK mark streams by these headers; files and plain bodies do not. */
function isStreaming(res: Response): boolean {
  const headers = res.headers
  return headers.get('transfer-encoding') === 'chunked' || STREAM_TYPES.test(headers.get('content-type') ?? '')
}

/**
 * Calls `listener` once the response body of `c` has been delivered: at once for bodies whose size is
 * known, at the end of the stream (or its cancellation) otherwise. Call it after `next()`. Bodies of
 * unknown size are followed by replacing `c.res` with a counting copy; observers share one copy.
 */
export function onResponseEnd(c: Context, listener: Listener): void {
  const res = c.res
  const known = knownSizes.get(res)
  if (known !== undefined) {
    listener({ bytes: c.req.method === 'HEAD' ? 0 : known, endedAt: performance.now(), streamed: false, aborted: false })
    return
  }
  const existing = watches.get(res)
  if (existing) {
    existing.listeners.push(listener)
    return
  }
  const source = c.req.method === 'HEAD' || res.status === 101 ? null : res.body
  if (!source) {
    listener({ bytes: 0, endedAt: performance.now(), streamed: false, aborted: false })
    return
  }
  const watch: Watch = { listeners: [listener], bytes: 0, streamed: isStreaming(res), ended: false }
  const finish = (aborted: boolean) => {
    if (watch.ended) return
    watch.ended = true
    const end: ResponseEnd = { bytes: watch.bytes, endedAt: performance.now(), streamed: watch.streamed, aborted }
    for (const each of watch.listeners) each(end)
  }
  const reader = source.getReader()
  const counted = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read()
        if (done) {
          controller.close()
          finish(false)
          return
        }
        watch.bytes += value.byteLength
        controller.enqueue(value)
      } catch (error) {
        controller.error(error)
        finish(true)
      }
    },
    cancel(reason) {
      finish(true)
      return reader.cancel(reason)
    },
  })
  const wrapped = new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers })
  watches.set(wrapped, watch)
  // Clearing first stops Hono from copying the old response's headers onto the new one a second time.
  c.res = undefined
  c.res = wrapped
}
