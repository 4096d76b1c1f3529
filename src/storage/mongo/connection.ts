import type { MongoClient } from 'mongodb'
import type { Logger } from 'pino'

export interface MongoConnectionOptions {
  client: MongoClient
  logger: Pick<Logger, 'info' | 'warn'>
  /** The first wait before connecting again; doubles up to `maxBackoffMs`. Default 250 ms. */
  backoffMs?: number
  /** Default 5000 ms. */
  maxBackoffMs?: number
  /** Called after every successful connect (the indexes are verified again). */
  onConnect?: () => void
}

/**
 * Owns `client.connect()`. The driver's automatic connect runs only while the client has no topology;
 * after a failed connect it keeps a closed one and every operation fails with `MongoTopologyClosedError`.
 * So this connects explicitly, and after a failure (or a topology found closed) keeps connecting in the
 * background with capped, jittered backoff until it succeeds or the stores are closed. A database lost
 * after connecting is the driver's to find again (it monitors its servers); this steps in only when
 * the topology itself is gone.
 */
export class MongoConnection {
  readonly #options: MongoConnectionOptions
  #connected = false
  #closed = false
  #retrying: Promise<void> | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #wake: (() => void) | undefined

  constructor(options: MongoConnectionOptions) {
    this.#options = options
  }

  get connected(): boolean {
    return this.#connected
  }

  /** The first attempt; on failure the retries go on in the background. Resolves with the outcome. */
  async start(): Promise<boolean> {
    try {
      await this.#connect()
      return true
    } catch (error) {
      this.#options.logger.warn({ err: error }, 'MongoDB is unreachable at start-up; connecting again in the background')
      this.#retry()
      return false
    }
  }

  /** An operation found the topology closed: connect again in the background. */
  lost(error: unknown): void {
    if (this.#closed || !this.#connected) return
    this.#connected = false
    this.#options.logger.warn({ err: error }, 'MongoDB connection lost (topology closed); connecting again in the background')
    this.#retry()
  }

  /** Stops the retries, once an attempt under way has ended; the caller then closes the client. */
  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#wake?.()
    await this.#retrying
  }

  async #connect(): Promise<void> {
    await this.#options.client.connect()
    if (this.#closed) return
    this.#connected = true
    this.#options.onConnect?.()
  }

  #retry(): void {
    this.#retrying ??= this.#retryLoop().finally(() => {
      this.#retrying = undefined
    })
  }

  async #retryLoop(): Promise<void> {
    const { backoffMs = 250, maxBackoffMs = 5000, logger } = this.#options
    let delay = backoffMs
    for (let attempt = 1; !this.#closed; attempt++) {
      await this.#sleep(delay / 2 + (Math.random() * delay) / 2)
      if (this.#closed) return
      try {
        await this.#connect()
        logger.info({ attempt }, 'MongoDB connected')
        return
      } catch (error) {
        // Powers of two: the log says it is still trying without a line per attempt.
        if ((attempt & (attempt - 1)) === 0) logger.warn({ err: error, attempt }, 'MongoDB still unreachable; connecting again')
        delay = Math.min(delay * 2, maxBackoffMs)
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve
      this.#timer = setTimeout(resolve, ms)
    })
  }
}
