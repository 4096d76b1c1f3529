import type { Logger } from 'pino'
import type { ChatJob, DataEvent, JobEvent, JobStatus, TextEvent } from '../../features/chat/index.ts'
import type { Clock, TimerHandle } from '../../kernel/clock.ts'
import type { RedisPort } from '../client.ts'
import { APPEND } from './scripts.ts'

/** What an owned job needs to know about where it writes. */
export interface OwnedJobSettings {
  redis: RedisPort
  clock: Clock
  logger?: Logger
  recordKey: string
  logKey: string
  newsChannel: string
  epoch: number
  /** TTL of the record and log while running, refreshed by every write. */
  ttlMs: number
  /** TTL after the job ended (config `chat.job_retention`). */
  retentionMs: number
  maxLen: number
  /** Text deltas within this window become one log entry (one XADD). */
  coalesceMs: number
  onEnded: (job: OwnedJob) => void
}

/** The log entry's fields: `t` the type, `d` the delta itself or the data as JSON. */
export function entryFields(event: JobEvent): [string, string] {
  return event.type === 'message' ? ['message', event.delta] : [event.type, JSON.stringify(event.data)]
}

/**
 * A generation this instance runs: the in-memory job (local readers read it directly) whose log is
 * mirrored into the Redis stream for every other instance. Text deltas are gathered for
 * `coalesceMs` and enter both logs as one event, so seqs agree everywhere; other events flush at
 * once. Writes go one batch at a time, in order; a failed batch is retried with the next one.
 * Every write returns the record's stop flag, so a lost stop message is noticed within one window.
 */
export class OwnedJob implements ChatJob {
  readonly #inner: ChatJob
  readonly #settings: OwnedJobSettings
  #text = ''
  #timer: TimerHandle | undefined
  #queue: JobEvent[] = []
  #final: Exclude<JobStatus, 'running'> | '' = ''
  #writing: Promise<void> | null = null
  #again = false
  #fenced = false
  #failing = false
  lastWriteAt: number

  constructor(inner: ChatJob, settings: OwnedJobSettings) {
    this.#inner = inner
    this.#settings = settings
    this.lastWriteAt = settings.clock.now()
  }

  get id() {
    return this.#inner.id
  }
  get userId() {
    return this.#inner.userId
  }
  get conversationId() {
    return this.#inner.conversationId
  }
  get signal() {
    return this.#inner.signal
  }
  get status() {
    return this.#inner.status
  }
  get events() {
    return this.#inner.events
  }
  get stopReason() {
    return this.#inner.stopReason
  }
  get finished() {
    return this.#inner.finished
  }

  appendText(delta: string): TextEvent {
    this.#text += delta
    this.#timer ??= this.#settings.clock.setTimeout(() => this.#flushText(true), this.#settings.coalesceMs)
    // Not yet in the log: its seq is given when the window closes. Nobody reads this return value's seq.
    return { seq: 0, type: 'message', delta }
  }

  append(type: DataEvent['type'], data: Record<string, unknown>): DataEvent {
    this.#flushText(false)
    const event = this.#inner.append(type, data)
    this.#enqueue(event)
    return event
  }

  finish(status: Exclude<JobStatus, 'running'>, type: 'done' | 'error', data: Record<string, unknown>): DataEvent {
    this.#flushText(false)
    this.#final = status
    const event = this.#inner.finish(status, type, data)
    this.#enqueue(event)
    return event
  }

  read(after: number) {
    return this.#inner.read(after)
  }

  subscribe(after: number, listener: (event: JobEvent) => void) {
    return this.#inner.subscribe(after, listener)
  }

  stop(reason?: 'stopped' | 'timeout') {
    return this.#inner.stop(reason)
  }

  /** Refreshes the TTLs and reads the stop flag when nothing was written for a while (long tool calls). */
  touch(): void {
    this.#write()
  }

  /** Ends the coalescing window: the gathered text becomes one event. */
  #flushText(write: boolean): void {
    this.#settings.clock.clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#text === '') return
    const text = this.#text
    this.#text = ''
    const event = this.#inner.appendText(text)
    if (write) this.#enqueue(event)
    else this.#queue.push(event)
  }

  #enqueue(event: JobEvent): void {
    this.#queue.push(event)
    this.#write()
  }

  #write(): void {
    if (this.#writing) {
      this.#again = true
      return
    }
    this.#writing = this.#send().finally(() => {
      this.#writing = null
      if (this.#again) {
        this.#again = false
        this.#write()
      }
    })
  }

  async #send(): Promise<void> {
    if (this.#fenced) return
    const batch = this.#queue
    this.#queue = []
    const final = batch.some((event) => event.type === 'done' || event.type === 'error') ? this.#final : ''
    const s = this.#settings
    const args: (string | number)[] = [this.id, s.epoch, final ? s.retentionMs : s.ttlMs, s.maxLen, s.newsChannel, final]
    for (const event of batch) args.push(event.seq, ...entryFields(event))
    try {
      const stopFlag = await s.redis.eval<number>(APPEND, [s.recordKey, s.logKey], args)
      this.lastWriteAt = s.clock.now()
      this.#failing = false
      if (stopFlag === -1) {
        this.#fenced = true
        this.#queue = []
        s.onEnded(this)
        s.logger?.warn({ conversation_id: this.conversationId, stream_id: this.id }, 'another instance holds this conversation now; stopping the generation')
        this.#inner.stop('stopped')
      } else if (stopFlag === 1) this.#inner.stop('stopped')
      if (final) s.onEnded(this)
    } catch (error) {
      // Kept for the next attempt (the next write or touch); readers elsewhere wait, local ones do not.
      this.#queue = batch.concat(this.#queue)
      if (!this.#failing) s.logger?.warn({ err: error, conversation_id: this.conversationId }, 'could not write the job log to Redis; retrying')
      this.#failing = true
      // An ended job whose log Redis has not taken for its whole retention is given up.
      if (this.#inner.status !== 'running' && s.clock.now() - this.lastWriteAt > s.retentionMs) {
        this.#fenced = true
        this.#queue = []
        s.onEnded(this)
      }
    }
  }

  /** Whether the log has been written completely (the terminal event included). */
  get settled(): boolean {
    return this.#queue.length === 0 && this.#writing === null && this.#inner.status !== 'running'
  }

  /** Stops writing (the manager is closing). */
  abandon(): void {
    this.#settings.clock.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#fenced = true
  }
}
