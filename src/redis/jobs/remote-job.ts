import type { JobEvent, JobHandle, JobListener, JobStatus } from '../../features/chat/index.ts'
import type { Clock, TimerHandle } from '../../kernel/clock.ts'
import type { RedisPort } from '../client.ts'
import { STOP } from './scripts.ts'

export interface RemoteJobSettings {
  redis: RedisPort
  clock: Clock
  recordKey: string
  logKey: string
  newsChannel: string
  stopChannelPrefix: string
  /** How often a live reader re-reads the log without news: a lost message costs at most this. */
  pollMs: number
  /** Live readers on this instance, for `stats()`. */
  listeners: { count: number }
}

/** The end a reader gets when the log it follows can no longer end by itself. */
const LOST = { type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'The generation was lost before it ended; its reply, if any, is in the conversation' }

const isTerminal = (event: JobEvent) => event.type === 'done' || event.type === 'error'

/** Stream entries (`XRANGE` replies) as job events. */
export function eventsOf(entries: [string, string[]][]): JobEvent[] {
  return entries.map(([id, fields]) => {
    const seq = Number(id.slice(id.indexOf('-') + 1))
    const type = fields[fields.indexOf('t') + 1] as JobEvent['type']
    const data = fields[fields.indexOf('d') + 1]
    return type === 'message' ? { seq, type, delta: data } : ({ seq, type, data: JSON.parse(data) } as JobEvent)
  })
}

/**
 * A generation another instance runs (or ran), read from its stream: replay with `XRANGE` after the
 * cursor, then the same read again whenever the owner announces an append on the conversation's
 * news channel, and every `pollMs` in case an announcement was lost. Reading by id from the last
 * seq seen needs no reorder buffer and cannot deliver twice.
 */
export class RemoteJob implements JobHandle {
  readonly id: string
  readonly userId: string
  readonly conversationId: string
  readonly status: JobStatus
  readonly #s: RemoteJobSettings

  constructor(record: { id: string; user: string; conv: string; status: JobStatus }, settings: RemoteJobSettings) {
    this.id = record.id
    this.userId = record.user
    this.conversationId = record.conv
    this.status = record.status
    this.#s = settings
  }

  async read(after: number): Promise<JobEvent[]> {
    const entries = await this.#s.redis.command<[string, string[]][]>(['XRANGE', this.#s.logKey, `(0-${after}`, '+'])
    return eventsOf(entries)
  }

  async stop(): Promise<boolean> {
    return (await this.#s.redis.eval<number>(STOP, [this.#s.recordKey], [this.userId, this.#s.stopChannelPrefix])) === 1
  }

  subscribe(after: number, listener: JobListener): () => void {
    const s = this.#s
    let cursor = after
    let reading = false
    let again = false
    let ended = false
    let timer: TimerHandle | undefined
    const detach = () => {
      if (ended) return
      ended = true
      s.listeners.count--
      s.clock.clearInterval(timer)
      void s.redis.unsubscribe(s.newsChannel, onNews)
    }
    const pull = async () => {
      if (reading) {
        again = true
        return
      }
      reading = true
      try {
        do {
          again = false
          const events = await this.read(cursor).catch(() => [] as JobEvent[])
          for (const event of events) {
            if (ended) return
            cursor = event.seq
            listener(event)
            if (isTerminal(event)) return detach()
          }
          if (events.length === 0 && !ended && (await this.#lost())) {
            listener({ seq: cursor + 1, type: 'error', data: LOST })
            return detach()
          }
        } while (again && !ended)
      } finally {
        reading = false
      }
    }
    const onNews = () => void pull()
    s.listeners.count++
    // Subscribed before the first read, so no append falls between the replay and the live part.
    void s.redis.subscribe(s.newsChannel, onNews).then(pull)
    timer = s.clock.setInterval(() => void pull(), s.pollMs, { unref: true })
    return detach
  }

  /**
   * True once the log can no longer end: the record names another job or none, or the job ended and
   * its terminal entry is gone (retention ran out). The reader then stops instead of hanging.
   */
  async #lost(): Promise<boolean> {
    try {
      const [id, status] = await this.#s.redis.command<(string | null)[]>(['HMGET', this.#s.recordKey, 'id', 'status'])
      if (id === this.id && status === 'running') return false
      const tail = await this.#s.redis.command<unknown[]>(['XREVRANGE', this.#s.logKey, '+', '-', 'COUNT', '1'])
      return tail.length === 0 || id !== this.id
    } catch {
      return false
    }
  }
}
