import { systemClock, type WallClock } from '../../kernel/clock.ts'
import { problems } from '../../kernel/problem.ts'

/** What one generation reports, in order. `seq` starts at 1 and grows by one. */
export type JobEventType = 'message' | 'tool_call' | 'tool_result' | 'done' | 'error'

/**
 * A text delta. The bulk of every log, so it is one object with the delta on it rather than an
 * event plus a `data` object: the log is retained for minutes, and every object in it is copied
 * by the garbage collector. Its wire `data` is `{ delta }` (`eventData`).
 */
export interface TextEvent {
  seq: number
  type: 'message'
  delta: string
}

export interface DataEvent {
  seq: number
  type: Exclude<JobEventType, 'message'>
  data: Record<string, unknown>
}

export type JobEvent = TextEvent | DataEvent

/** The event's `data` as clients see it (SSE `data:`, long-poll, WebSocket). */
export function eventData(event: JobEvent): Record<string, unknown> {
  return event.type === 'message' ? { delta: event.delta } : event.data
}

export type JobStatus = 'running' | 'complete' | 'stopped' | 'error'

/** Called for every event after the listener's cursor: first the replay, then live. */
export type JobListener = (event: JobEvent) => void

/**
 * A generation as a reader sees it (resume, long-poll, stop): the job this instance runs, or — with
 * a shared job manager — one another instance runs. `seq` numbers are the same everywhere.
 */
export interface JobHandle {
  readonly id: string
  readonly userId: string
  readonly conversationId: string
  /** The status when the handle was looked up (live for a local job). */
  readonly status: JobStatus
  /** The events with `seq > after` in the log now. */
  read(after: number): readonly JobEvent[] | Promise<readonly JobEvent[]>
  /** Replays events with `seq > after`, then delivers new ones until the terminal event. Returns the detach function. */
  subscribe(after: number, listener: JobListener): () => void
  /** Cancels a running job. False when it already finished (or is no longer this conversation's job). */
  stop(reason?: 'stopped' | 'timeout'): boolean | Promise<boolean>
}

export interface ChatJob extends JobHandle {
  /** Aborted by `stop()` or the job's own deadline; the pipeline hands it to the provider and tools. */
  readonly signal: AbortSignal
  readonly events: readonly JobEvent[]
  /** Why the signal fired: an explicit stop or the total-time budget. */
  readonly stopReason: 'stopped' | 'timeout' | null
  /** Resolves when the terminal event (`done` or `error`) is in the log. */
  readonly finished: Promise<void>
  /** Appends a text delta (a `message` event). */
  appendText(delta: string): TextEvent
  append(type: DataEvent['type'], data: Record<string, unknown>): DataEvent
  /** Ends the log with its terminal event; the job then counts as finished and is retained for replay. */
  finish(status: Exclude<JobStatus, 'running'>, type: 'done' | 'error', data: Record<string, unknown>): DataEvent
  /** Replays events with `seq > after` synchronously, then delivers new ones. Returns the detach function. */
  subscribe(after: number, listener: JobListener): () => void
  read(after: number): readonly JobEvent[]
  /** Cancels a running job. False when it already finished. */
  stop(reason?: 'stopped' | 'timeout'): boolean
}

export interface JobStats {
  /** Jobs held in memory (running + retained). */
  jobs: number
  running: number
  listeners: number
}

/**
 * Where generations live while they run and shortly after. In memory for one instance; the Redis
 * adapter (`src/redis/jobs/`) implements the same interface for several.
 */
export interface JobManager {
  /** Reserves the conversation for a new job; a conversation with a running job (anywhere) is a 409 problem. */
  create(input: { userId: string; conversationId: string }): ChatJob | Promise<ChatJob>
  /** The conversation's running job, else its most recent retained one, wherever it runs: what resume, long-poll and stop read. */
  find(conversationId: string): JobHandle | undefined | Promise<JobHandle | undefined>
  /** This instance's running job of the conversation, else its most recent retained one. */
  latest(conversationId: string): ChatJob | undefined
  running(conversationId: string): ChatJob | undefined
  stats(): JobStats
  /** Stops every running job and forgets all of them. */
  close(): void | Promise<void>
}

export interface InMemoryJobManagerOptions {
  /** How long a finished job stays replayable, in ms (config `chat.job_retention`, default 5 min). */
  retentionMs?: number
  /** Tells when a job finished and when its retention ran out. Default: the system clock. */
  clock?: WallClock
  /** Job ids; default `crypto.randomUUID()`. */
  newId?: () => string
}

class MemoryJob implements ChatJob {
  readonly id: string
  readonly userId: string
  readonly conversationId: string
  readonly events: JobEvent[] = []
  readonly finished: Promise<void>
  status: JobStatus = 'running'
  stopReason: 'stopped' | 'timeout' | null = null
  finishedAt = 0
  readonly listeners = new Set<JobListener>()
  private readonly controller = new AbortController()
  private resolveFinished!: () => void
  private readonly onFinish: (job: MemoryJob) => void

  constructor(id: string, userId: string, conversationId: string, onFinish: (job: MemoryJob) => void) {
    this.id = id
    this.userId = userId
    this.conversationId = conversationId
    this.onFinish = onFinish
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve))
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  appendText(delta: string): TextEvent {
    return this.add({ seq: this.events.length + 1, type: 'message', delta })
  }

  append(type: DataEvent['type'], data: Record<string, unknown>): DataEvent {
    return this.add({ seq: this.events.length + 1, type, data })
  }

  private add<E extends JobEvent>(event: E): E {
    if (this.status !== 'running') throw new Error(`job ${this.id} already finished`)
    this.events.push(event)
    for (const listener of this.listeners) listener(event)
    return event
  }

  finish(status: Exclude<JobStatus, 'running'>, type: 'done' | 'error', data: Record<string, unknown>): DataEvent {
    const event = this.append(type, data)
    this.status = status
    this.listeners.clear()
    this.onFinish(this)
    this.resolveFinished()
    return event
  }

  read(after: number): readonly JobEvent[] {
    return this.events.slice(Math.max(0, after))
  }

  subscribe(after: number, listener: JobListener): () => void {
    for (let i = Math.max(0, after); i < this.events.length; i++) listener(this.events[i])
    if (this.status !== 'running') return noop
    this.listeners.add(listener)
    return () => void this.listeners.delete(listener)
  }

  stop(reason: 'stopped' | 'timeout' = 'stopped'): boolean {
    if (this.status !== 'running' || this.controller.signal.aborted) return false
    this.stopReason = reason
    this.controller.abort(reason)
    return true
  }
}

function noop() {}

/** The in-memory manager answers at once. */
export interface InMemoryJobManager extends JobManager {
  create(input: { userId: string; conversationId: string }): ChatJob
  find(conversationId: string): ChatJob | undefined
  close(): void
}

/**
 * Jobs in this process's memory. Finished jobs are dropped lazily (on the next call after their
 * retention ran out), so the manager owns no timers.
 */
export function createInMemoryJobManager(options: InMemoryJobManagerOptions = {}): InMemoryJobManager {
  const retentionMs = options.retentionMs ?? 5 * 60_000
  const clock = options.clock ?? systemClock
  const newId = options.newId ?? (() => crypto.randomUUID())
  const running = new Map<string, MemoryJob>()
  const latest = new Map<string, MemoryJob>()
  // Finished jobs in finishing order, so a sweep only looks at the expired head: O(1) amortized.
  let finished: MemoryJob[] = []
  let head = 0

  function sweep() {
    const cutoff = clock.now() - retentionMs
    while (head < finished.length && finished[head].finishedAt <= cutoff) {
      const job = finished[head++]
      if (latest.get(job.conversationId) === job) latest.delete(job.conversationId)
    }
    if (head > 1024 && head * 2 > finished.length) {
      finished = finished.slice(head)
      head = 0
    }
  }

  function onFinish(job: MemoryJob) {
    job.finishedAt = clock.now()
    if (running.get(job.conversationId) === job) running.delete(job.conversationId)
    finished.push(job)
    if (retentionMs <= 0) sweep()
  }

  return {
    create({ userId, conversationId }) {
      sweep()
      if (running.has(conversationId)) throw problems.conflict('A reply is already being generated in this conversation')
      const job = new MemoryJob(newId(), userId, conversationId, onFinish)
      running.set(conversationId, job)
      latest.set(conversationId, job)
      return job
    },
    latest(conversationId) {
      sweep()
      return latest.get(conversationId)
    },
    find(conversationId) {
      return this.latest(conversationId)
    },
    running(conversationId) {
      return running.get(conversationId)
    },
    stats() {
      sweep()
      let listeners = 0
      for (const job of latest.values()) listeners += job.listeners.size
      return { jobs: latest.size, running: running.size, listeners }
    },
    close() {
      for (const job of running.values()) job.stop()
      running.clear()
      latest.clear()
      finished = []
      head = 0
    },
  }
}
