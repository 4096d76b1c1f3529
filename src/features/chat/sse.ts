import type { Context } from 'hono'
import { streamSSE, type SSEStreamingApi } from 'hono/streaming'
import type { AppEnv } from '../../env.ts'
import { scopeOf, StreamProgress, streamingResponse } from '../../pipeline/index.ts'
import { systemClock, type Clock, type TimerHandle } from '../../kernel/clock.ts'
import { eventStreamFormatter, isTerminal, type FrameFormatter } from './formatters.ts'
import type { JobEvent, JobHandle, TextEvent } from './jobs.ts'

const isText = (item: string | JobEvent | undefined): item is TextEvent => typeof item === 'object' && item.type === 'message'

/**
 * `items` with every run of consecutive `message` events replaced by one `message` event carrying
 * the run's concatenated delta and its last seq (see FrameWriter). Other items pass unchanged.
 */
export function coalesceText(items: readonly (string | JobEvent)[]): (string | JobEvent)[] {
  const out: (string | JobEvent)[] = []
  for (let i = 0; i < items.length; i++) {
    const item = items[i]
    if (!isText(item) || !isText(items[i + 1])) {
      out.push(item)
      continue
    }
    let delta = item.delta
    let seq = item.seq
    while (isText(items[i + 1])) {
      const following = items[++i] as TextEvent
      delta += following.delta
      seq = following.seq
    }
    out.push({ seq, type: 'message', delta })
  }
  return out
}

const encoder = new TextEncoder()

/**
 * Resolves after the current macrotask, so frames produced in one burst of microtasks meet. A yield
 * to the event loop, not a wait: it stays on the runtime's own timer, not the injected clock.
 */
const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

/**
 * Writes frames with as few stream writes as possible: frames pushed within one macrotask (a burst
 * of deltas) or while a write is pending (a busy socket) are joined into one string and written
 * once. Each write costs far more than a concatenation (encode, TransformStream, socket write);
 * the price is at most one timer tick of latency. Job events are queued as they are and formatted
 * only when written: the job log holds them anyway, while frame strings kept waiting for the write
 * would survive a young-generation GC and be copied by it. The bytes written are reported to
 * `progress`.
 *
 * Text deltas waiting for the same write are coalesced (`coalesceText`): a run of consecutive
 * queued `message` events becomes one `message` event whose delta is their concatenation and whose
 * seq is the run's last. So ids on the wire increase strictly but may skip, and a client resuming
 * after a merged frame's id (`Last-Event-ID`, `?after=`) gets exactly the text it has not seen.
 * Any other queued item — a tool_call, tool_result, done or error event, or a comment — ends the
 * run, so nothing is reordered and no merge crosses a tool call or the end of the reply.
 */
export class FrameWriter {
  private readonly stream: SSEStreamingApi
  private readonly progress: StreamProgress | undefined
  private readonly formatter: Pick<FrameFormatter, 'format'>
  private pending: (string | JobEvent)[] = []
  private pumping: Promise<void> | null = null

  /** `formatter` turns pushed events into frames; default `eventStreamFormatter`. */
  constructor(stream: SSEStreamingApi, progress?: StreamProgress, formatter: Pick<FrameFormatter, 'format'> = eventStreamFormatter) {
    this.stream = stream
    this.progress = progress
    this.formatter = formatter
  }

  /** Queues text (a comment, the formatter's `open` or `close`). */
  push(text: string): void {
    if (text === '') return
    this.pending.push(text)
    this.pumping ??= this.pump()
  }

  /** Queues an event, formatted when it is written. */
  pushEvent(event: JobEvent): void {
    this.pending.push(event)
    this.pumping ??= this.pump()
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
    while (this.pending.length > 0 && !this.stream.aborted) {
      const items = this.pending
      this.pending = []
      let text = ''
      for (const item of coalesceText(items)) text += typeof item === 'string' ? item : this.formatter.format(item)
      await this.write(text)
      if (this.pending.length > 0) await nextTask()
    }
    this.pending.length = 0
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
  private readonly clock: Clock
  private readonly writers = new Set<Pick<FrameWriter, 'push'>>()
  private timer: TimerHandle | undefined

  /** `clock`: default the system clock. */
  constructor(intervalMs: number, clock: Clock = systemClock) {
    this.intervalMs = intervalMs
    this.clock = clock
  }

  add(writer: Pick<FrameWriter, 'push'>): void {
    this.writers.add(writer)
    this.timer ??= this.clock.setInterval(() => {
      for (const each of this.writers) each.push(': heartbeat\n\n')
    }, this.intervalMs)
  }

  delete(writer: Pick<FrameWriter, 'push'>): void {
    this.writers.delete(writer)
    if (this.writers.size === 0 && this.timer !== undefined) {
      this.clock.clearInterval(this.timer)
      this.timer = undefined
    }
  }
}

/** Listeners, heartbeats and writers of open SSE responses; for tests and leak checks. */
export interface StreamCounters {
  open: number
}

export interface EventStreamOptions {
  job: Pick<JobHandle, 'subscribe'>
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
 * Its bytes and end are reported to the observability middleware directly (`scopeOf(c).reportStream`).
 */
export function eventStream(c: Context<AppEnv>, options: EventStreamOptions): Response {
  const { job, after, formatter, heartbeats, counters } = options
  const progress = new StreamProgress()
  let readable: ReadableStream<Uint8Array> | undefined
  const res = streamSSE(c, async (stream) => {
    // streamSSE starts this callback before it returns: take the body stream from here, because
    // `res.body` makes @hono/node-server build a full Response (~8 µs).
    readable = stream.responseReadable
    if (counters) counters.open++
    const writer = new FrameWriter(stream, progress, formatter)
    let end!: () => void
    const ended = new Promise<void>((resolve) => (end = resolve))
    stream.onAbort(end)
    // In the first batch (one timer tick away), not a write of its own: each write is a socket write,
    // and @hono/node-server flushes the headers without waiting for a body chunk.
    writer.push(formatter.open)
    heartbeats.add(writer)
    const detach = job.subscribe(after, (event) => {
      writer.pushEvent(event)
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
  return sseResponse(c, res, readable, progress, options.headers)
}

/**
 * `streamSSE`'s body (`readable`, else `res.body`) with our own header set, its end reported through
 * `progress`. streamSSE's `Connection` and `Transfer-Encoding` are hop-by-hop and illegal on HTTP/2
 * (Node adds them itself on HTTP/1.1), and a plain header object keeps @hono/node-server from
 * building and sorting a `Headers` object per stream.
 */
export function sseResponse(
  c: Context<AppEnv>,
  res: Response,
  readable: ReadableStream<Uint8Array> | undefined,
  progress: StreamProgress,
  headers?: Record<string, string>,
): Response {
  const sse = streamingResponse(c, readable ?? res.body, res.status, 'text/event-stream', {
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no',
    ...headers,
  })
  scopeOf(c).reportStream(sse, progress)
  return sse
}
