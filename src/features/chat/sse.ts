import type { Context } from 'hono'
import { streamSSE, type SSEStreamingApi } from 'hono/streaming'
import type { AppEnv } from '../../env.ts'
import { reportStreamBody, StreamProgress } from '../../observability/response-end.ts'
import type { ChatJob, JobEvent } from './jobs.ts'

/** Turns job events into wire frames for one listener. */
export interface FrameFormatter {
  /** Written first, right after the headers. */
  readonly open: string
  format(event: JobEvent): string
  /** Written after the terminal event. */
  readonly close: string
}

function isTerminal(event: JobEvent): boolean {
  return event.type === 'done' || event.type === 'error'
}

/** Our own protocol: `event: <type>`, `id: <seq>`, `data: <json>`. */
export const eventStreamFormatter: FrameFormatter = {
  // A comment right away: @hono/node-server sends the headers with the first body write.
  open: ': stream-open\n\n',
  format(event) {
    // JSON.stringify never emits a raw newline, so one `data:` line is always enough. Not cached on
    // the event: the log is retained for minutes, and keeping every frame there costs far more
    // (old-generation garbage collection) than formatting again for a rare second listener.
    return `event: ${event.type}\nid: ${event.seq}\ndata: ${JSON.stringify(event.data)}\n\n`
  },
  close: '',
}

const chunk = (value: Record<string, unknown>) => `data: ${JSON.stringify(value)}\n\n`

/**
 * The AI SDK UI message stream (v1) for one listener: `start`, `start-step`, text and tool parts,
 * `finish-step`, `finish` (or `abort` / `error`), `[DONE]`. A step is one provider round; it ends
 * when tool results are followed by more output. Only chunk types `ai@6` accepts are emitted.
 */
export function uiMessageFormatter(messageId: string): FrameFormatter {
  let textId: string | null = null
  let texts = 0
  let afterToolResult = false

  function endText(): string {
    if (!textId) return ''
    const out = chunk({ type: 'text-end', id: textId })
    textId = null
    return out
  }

  function nextStep(): string {
    if (!afterToolResult) return ''
    afterToolResult = false
    return chunk({ type: 'finish-step' }) + chunk({ type: 'start-step' })
  }

  return {
    open: chunk({ type: 'start', messageId }) + chunk({ type: 'start-step' }),
    format(event) {
      const data = event.data
      switch (event.type) {
        case 'message': {
          let out = nextStep()
          if (!textId) {
            textId = `text-${++texts}`
            out += chunk({ type: 'text-start', id: textId })
          }
          return out + chunk({ type: 'text-delta', id: textId, delta: data.delta })
        }
        case 'tool_call':
          return nextStep() + endText() + chunk({ type: 'tool-input-available', toolCallId: data.id, toolName: data.name, input: data.arguments ?? {} })
        case 'tool_result':
          afterToolResult = true
          return data.error
            ? chunk({ type: 'tool-output-error', toolCallId: data.id, errorText: (data.error as { detail: string }).detail })
            : chunk({ type: 'tool-output-available', toolCallId: data.id, output: data.result ?? null })
        case 'done': {
          const out = endText() + chunk({ type: 'finish-step' })
          if (data.status === 'stopped') return out + chunk({ type: 'abort', reason: 'stopped' })
          const { status: _status, ...metadata } = data
          return out + chunk({ type: 'finish', finishReason: 'stop', messageMetadata: metadata })
        }
        case 'error':
          return endText() + chunk({ type: 'error', errorText: String(data.detail ?? data.title ?? 'The reply failed') })
      }
    },
    close: 'data: [DONE]\n\n',
  }
}

const encoder = new TextEncoder()

/** Resolves after the current macrotask, so frames produced in one burst of microtasks meet. */
const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

/**
 * Writes frames with as few stream writes as possible: frames pushed within one macrotask (a burst
 * of deltas) or while a write is pending (a busy socket) are joined into one string and written
 * once. Each write costs far more than a concatenation (encode, TransformStream, socket write);
 * the price is at most one timer tick of latency. The bytes written are reported to `progress`.
 */
export class FrameWriter {
  private readonly stream: SSEStreamingApi
  private readonly progress: StreamProgress | undefined
  private pending = ''
  private pumping: Promise<void> | null = null

  constructor(stream: SSEStreamingApi, progress?: StreamProgress) {
    this.stream = stream
    this.progress = progress
  }

  push(text: string): void {
    if (text === '') return
    this.pending += text
    this.pumping ??= this.pump()
  }

  /** Writes at once, without waiting for the batch (the first bytes, so headers go out). */
  async writeNow(text: string): Promise<void> {
    await this.write(text)
  }

  private async write(text: string): Promise<void> {
    // Encoded here (streamSSE would do the same) so the byte count comes for free.
    const bytes = encoder.encode(text)
    this.progress?.wrote(bytes.byteLength)
    await this.stream.write(bytes)
  }

  private async pump(): Promise<void> {
    // Always asynchronous before the loop, so `pumping` is assigned before it is cleared below.
    await nextTask()
    while (this.pending !== '' && !this.stream.aborted) {
      const text = this.pending
      this.pending = ''
      await this.write(text)
      if (this.pending !== '') await nextTask()
    }
    this.pending = ''
    this.pumping = null
  }

  /** Resolves once everything pushed so far was handed to the response. */
  async drain(): Promise<void> {
    while (this.pumping) await this.pumping
  }
}

/**
 * One interval for the heartbeats of every open stream instead of a timer per stream (creating and
 * clearing a timer costs more than the rest of a short stream's bookkeeping). Runs only while a
 * stream is open, so an idle server holds no timer. A stream's first heartbeat comes within one
 * interval of its opening, and then one every interval.
 */
export class Heartbeats {
  private readonly intervalMs: number
  private readonly writers = new Set<Pick<FrameWriter, 'push'>>()
  private timer: ReturnType<typeof setInterval> | undefined

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs
  }

  add(writer: Pick<FrameWriter, 'push'>): void {
    this.writers.add(writer)
    this.timer ??= setInterval(() => {
      for (const each of this.writers) each.push(': heartbeat\n\n')
    }, this.intervalMs)
  }

  delete(writer: Pick<FrameWriter, 'push'>): void {
    this.writers.delete(writer)
    if (this.writers.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }
}

/** Listeners, heartbeats and writers of open SSE responses; for tests and leak checks. */
export interface StreamCounters {
  open: number
}

export interface EventStreamOptions {
  job: ChatJob
  /** Replay events with a larger seq. */
  after: number
  formatter: FrameFormatter
  /** Shared by the streams of one router (`new Heartbeats(config.chat.heartbeat_interval)`). */
  heartbeats: Heartbeats
  headers: Record<string, string>
  counters?: StreamCounters
}

/**
 * A `streamSSE` response that replays a job's log after `after` and follows it live until its
 * terminal event. A client that goes away detaches this listener only; the job keeps running.
 * Its bytes and end are reported to the observability middleware directly (`reportStreamBody`).
 */
export function eventStream(c: Context<AppEnv>, options: EventStreamOptions): Response {
  const { job, after, formatter, heartbeats, counters } = options
  const progress = new StreamProgress()
  const res = streamSSE(c, async (stream) => {
    if (counters) counters.open++
    const writer = new FrameWriter(stream, progress)
    let end!: () => void
    const ended = new Promise<void>((resolve) => (end = resolve))
    stream.onAbort(end)
    void writer.writeNow(formatter.open)
    heartbeats.add(writer)
    const detach = job.subscribe(after, (event) => {
      writer.push(formatter.format(event))
      if (isTerminal(event)) {
        writer.push(formatter.close)
        end()
      }
    })
    try {
      await ended
      await writer.drain()
    } finally {
      heartbeats.delete(writer)
      detach()
      if (counters) counters.open--
      progress.end(stream.aborted)
    }
  })
  reportStreamBody(res, progress)
  const headers = res.headers
  // streamSSE sets these; both are hop-by-hop and illegal on HTTP/2, and Node adds them itself on HTTP/1.1.
  headers.delete('connection')
  headers.delete('transfer-encoding')
  headers.set('cache-control', 'no-cache, no-transform')
  headers.set('x-accel-buffering', 'no')
  for (const name in options.headers) headers.set(name, options.headers[name])
  return res
}
