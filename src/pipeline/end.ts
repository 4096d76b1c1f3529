/** What is known about a response once its body has been delivered (or abandoned). */
export interface ResponseEnd {
  status: number
  /** Body bytes handed to the runtime. */
  bytes: number
  /** `performance.now()` when the body ended; for streams this is the end of the stream, not the headers. */
  endedAt: number
  /** The body was a stream (SSE, chunked) followed to its end. */
  streamed: boolean
  /** The client went away (or the stream failed) before the body ended. */
  aborted: boolean
}

export type EndListener = (end: ResponseEnd) => void

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
 * Bytes and end of one streamed body. The code writing the stream reports them (`wrote`, `end`), or
 * the pipeline counts them from a wrapped copy of a body it did not build (`countBody`).
 */
export class StreamProgress {
  readonly #streamed: boolean
  #bytes = 0
  #ended = false
  #onEnd: ((bytes: number, endedAt: number, streamed: boolean, aborted: boolean) => void) | undefined

  /** `streamed`: whether the body is a stream (SSE, chunked) rather than a file or a plain body. Default true. */
  constructor(streamed = true) {
    this.#streamed = streamed
  }

  /** Adds bytes handed to the runtime. */
  wrote(bytes: number): void {
    this.#bytes += bytes
  }

  /** The body ended, or was abandoned (`aborted`); later calls do nothing. */
  end(aborted: boolean): void {
    if (this.#ended) return
    this.#ended = true
    this.#onEnd?.(this.#bytes, performance.now(), this.#streamed, aborted)
  }

  /** @internal The pipeline's one listener. */
  follow(onEnd: (bytes: number, endedAt: number, streamed: boolean, aborted: boolean) => void): void {
    if (this.#ended) onEnd(this.#bytes, performance.now(), this.#streamed, false)
    else this.#onEnd = onEnd
  }
}

const STREAM_TYPES = /^(text\/event-stream|application\/(x-)?ndjson)/i

/** Hono's `streamSSE`/`streamText` and the AI SDK mark streams by these headers; files and plain bodies do not. */
export function isStreaming(res: Response): boolean {
  const headers = res.headers
  return headers.get('transfer-encoding') === 'chunked' || STREAM_TYPES.test(headers.get('content-type') ?? '')
}

/** A copy of `res` whose body reports its bytes and end to `progress`. */
export function countBody(res: Response, source: ReadableStream<Uint8Array>, progress: StreamProgress): Response {
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
  return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers })
}
