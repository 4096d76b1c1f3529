import type { Context } from 'hono'
import { isSent, requestState } from '../http/request-state.ts'

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
 * Notes when the request entered the observing middleware (the first of access log and metrics to
 * ask), so durations share one starting point and one clock read.
 */
export function markStart(c: Context): void {
  const state = requestState(c)
  if (state.startedAt === undefined) state.startedAt = performance.now()
}

/**
 * `performance.now()` once the response exists, read once for all observers (metrics, the access log)
 * so they agree and the clock is read once. Call it after `next()`.
 */
export function respondedAt(c: Context): number {
  const state = requestState(c)
  return (state.respondedAt ??= performance.now())
}

/** The `performance.now()` noted by `markStart`. */
export function startedAt(c: Context): number {
  return requestState(c).startedAt as number
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

/**
 * Bytes and end of one streamed body, shared by every observer of the response. Either the app
 * reports them as it writes (`reportStreamBody`), or `onResponseEnd` counts them from a wrapped copy.
 */
export class StreamProgress {
  readonly #streamed: boolean
  #bytes = 0
  #end: ResponseEnd | null = null
  #listeners: Listener[] = []

  /** `streamed`: whether the body is a stream (SSE, chunked) rather than a file or a plain body. Default true. */
  constructor(streamed = true) {
    this.#streamed = streamed
  }

  /** Adds bytes handed to the runtime. */
  wrote(bytes: number): void {
    this.#bytes += bytes
  }

  /** The body ended, or was abandoned (`aborted`); observers are called once, later calls do nothing. */
  end(aborted: boolean): void {
    if (this.#end) return
    const end: ResponseEnd = { bytes: this.#bytes, endedAt: performance.now(), streamed: this.#streamed, aborted }
    this.#end = end
    const listeners = this.#listeners
    this.#listeners = []
    for (const listener of listeners) listener(end)
  }

  listen(listener: Listener): void {
    if (this.#end) listener(this.#end)
    else this.#listeners.push(listener)
  }
}

/**
 * Notes that `res`'s streamed body is followed through `progress`: either the app reports its bytes
 * and end itself, so `onResponseEnd` observers need not wrap the body in a counting stream (a
 * ReadableStream, a full Response and a read per chunk on every streamed response), or a first
 * observer wrapped it and a second one joins. Kept in the request state with the rest of the
 * request's bookkeeping.
 */
export function reportStreamBody(c: Context, res: Response, progress: StreamProgress): void {
  const state = requestState(c)
  state.watchedResponse = res
  state.progress = progress
}

function watched(c: Context, res: Response): StreamProgress | undefined {
  const state = requestState(c)
  return state.watchedResponse === res ? state.progress : undefined
}

const STREAM_TYPES = /^(text\/event-stream|application\/(x-)?ndjson)/i

/** Hono's `streamSSE`/`streamText` and the AI SDK mark streams by these headers; files and plain bodies do not. */
function isStreaming(res: Response): boolean {
  const headers = res.headers
  return headers.get('transfer-encoding') === 'chunked' || STREAM_TYPES.test(headers.get('content-type') ?? '')
}

/**
 * The body size of a response `send()` built from a string (or no) body, known without touching
 * `res.body`; -1 for any other response. Such a body is delivered as soon as it exists.
 */
export function sentBytes(c: Context): number {
  if (!isSent(c)) return -1
  const body = requestState(c).sentBody
  return body === null || c.req.method === 'HEAD' ? 0 : utf8Length(body)
}

/**
 * Calls `listener` once the response body of `c` has been delivered: at once for bodies whose size is
 * known, at the end of the stream (or its cancellation) otherwise. Call it after `next()`. Streams the
 * app reports itself (`reportStreamBody`) are followed as they are; other bodies of unknown size by
 * replacing `c.res` with a counting copy. Observers share one progress.
 */
export function onResponseEnd(c: Context, listener: Listener): void {
  const res = c.res
  const bytes = sentBytes(c)
  if (bytes >= 0) {
    listener({ bytes, endedAt: respondedAt(c), streamed: false, aborted: false })
    return
  }
  const existing = watched(c, res)
  if (existing) {
    existing.listen(listener)
    return
  }
  const source = c.req.method === 'HEAD' || res.status === 101 ? null : res.body
  if (!source) {
    listener({ bytes: 0, endedAt: performance.now(), streamed: false, aborted: false })
    return
  }
  const progress = new StreamProgress(isStreaming(res))
  progress.listen(listener)
  const reader = source.getReader()
  const counted = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read()
        if (done) {
          controller.close()
          progress.end(false)
          return
        }
        progress.wrote(value.byteLength)
        controller.enqueue(value)
      } catch (error) {
        controller.error(error)
        progress.end(true)
      }
    },
    cancel(reason) {
      progress.end(true)
      return reader.cancel(reason)
    },
  })
  const wrapped = new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers })
  reportStreamBody(c, wrapped, progress)
  // Clearing first stops Hono from copying the old response's headers onto the new one a second time.
  c.res = undefined
  c.res = wrapped
}
