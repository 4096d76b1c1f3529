import type { E2ETarget } from './client.ts'

/** One server-sent event (comments are skipped). */
export interface SseFrame {
  event: string
  id: number | undefined
  data: any
}

/** An open `text/event-stream` response read frame by frame; every read is bounded. */
export class SseStream {
  readonly status: number
  readonly headers: Headers
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>
  readonly #abort: AbortController
  readonly #decoder = new TextDecoder()
  #buffer = ''
  #ended = false

  private constructor(res: Response, abort: AbortController) {
    this.status = res.status
    this.headers = res.headers
    this.#abort = abort
    this.#reader = res.body!.getReader()
  }

  /** Opens `path` on the target; the caller must `close()` it (or read it to the end). */
  static async open(target: E2ETarget, path: string, init: RequestInit = {}): Promise<SseStream> {
    const abort = new AbortController()
    const timer = setTimeout(() => abort.abort(new Error(`no response headers from ${path} within 10 s`)), 10_000)
    try {
      const res = await fetch(`${target.baseUrl}${path}`, { ...init, signal: abort.signal })
      if (!res.body) throw new Error(`${path} answered ${res.status} without a body`)
      return new SseStream(res, abort)
    } finally {
      clearTimeout(timer)
    }
  }

  /** The next event, or `null` when the stream ended. */
  async next(timeoutMs = 10_000): Promise<SseFrame | null> {
    for (;;) {
      const frame = this.#take()
      if (frame) return frame
      if (this.#ended) return null
      let timer: ReturnType<typeof setTimeout> | undefined
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms; unparsed: ${JSON.stringify(this.#buffer)}`)), timeoutMs)
      })
      try {
        const { done, value } = await Promise.race([this.#reader.read(), late])
        if (done) this.#ended = true
        else this.#buffer += this.#decoder.decode(value, { stream: true })
      } finally {
        clearTimeout(timer)
      }
    }
  }

  /** Every event up to and including `done` or `error` (or the end of the stream). */
  async rest(): Promise<SseFrame[]> {
    const frames: SseFrame[] = []
    // Bounded: a reply of the built-in model is well under a thousand events.
    for (let i = 0; i < 5000; i++) {
      const frame = await this.next()
      if (!frame) return frames
      frames.push(frame)
      if (frame.event === 'done' || frame.event === 'error') return frames
    }
    throw new Error('the stream did not end within 5000 events')
  }

  /** Hangs up (as a client whose tab closed would). */
  async close(): Promise<void> {
    this.#abort.abort()
    await this.#reader.cancel().catch(() => {})
  }

  #take(): SseFrame | null {
    for (;;) {
      const end = this.#buffer.indexOf('\n\n')
      if (end === -1) return null
      const block = this.#buffer.slice(0, end)
      this.#buffer = this.#buffer.slice(end + 2)
      let event = 'message'
      let id: number | undefined
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon === -1 ? line : line.slice(0, colon)
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'event') event = value
        else if (field === 'id') id = Number(value)
        else if (field === 'data') data.push(value)
      }
      if (data.length === 0) continue
      return { event, id, data: JSON.parse(data.join('\n')) }
    }
  }
}
