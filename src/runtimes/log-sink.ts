import { Buffer } from 'node:buffer'
import { write, writeSync } from 'node:fs'

export interface LogSinkOptions {
  /** File descriptor written to. Default 1 (stdout). */
  fd?: number
  /** Lines held while the descriptor is not taking them (a stalled pipe, a full disk); past this, lines are dropped. Default 16 MiB. */
  maxPendingBytes?: number
  /** Told once when writing fails, with the error; lines keep being tried. Default: a line on stderr. */
  onError?: (error: NodeJS.ErrnoException) => void
}

const RETRY_MS = 100
/** How long queued lines may wait for company: one write per ~this long under load, at most this late. */
const GATHER_MS = 100
/** Queued lines worth writing at once, whatever the wait. */
const BATCH_CHARS = 64 * 1024

/**
 * pino's destination for the process runtimes: lines are queued and written asynchronously, the lines
 * of up to `GATHER_MS` (or `BATCH_CHARS`) in one `write(2)`, so the event loop never blocks on stdout
 * (a slow pipe, a terminal, EAGAIN) and a busy server makes a few writes a second, not one per line
 * (a write costs a few microseconds of the main thread even when the thread pool does it).
 *
 * Not `pino.destination({ sync: false })` (sonic-boom), measured in `npm run bench -- --profile`: it
 * calls `Buffer.byteLength` on its growing buffer string for every line, which flattens the string
 * each time, about 4 µs per access-log line on this machine (the whole app's budget over bare Hono is
 * under 8 µs); here a line costs an array push, and a batch is joined and encoded once.
 */
export class LogSink {
  readonly #fd: number
  readonly #maxPending: number
  readonly #onError: (error: NodeJS.ErrnoException) => void
  #pending: string[] = []
  #pendingLength = 0
  /** A write is under way, or one is scheduled for the end of this turn. */
  #busy = false
  /** A write is under way (it may be stuck on a stdout nobody reads). */
  #writing = false
  #failed = false
  #waiting: (() => void)[] = []
  /** The wait for more lines before the next write, if one is running. */
  #timer: NodeJS.Timeout | undefined

  constructor(options: LogSinkOptions = {}) {
    this.#fd = options.fd ?? 1
    this.#maxPending = options.maxPendingBytes ?? 16 * 1024 * 1024
    this.#onError = options.onError ?? ((error) => process.stderr.write(`assistant-server: writing logs failed (${error.code ?? error.message}); lines may be lost\n`))
  }

  write(line: string): boolean {
    if (this.#pendingLength + line.length > this.#maxPending) return false
    this.#pending.push(line)
    this.#pendingLength += line.length
    if (!this.#busy) {
      this.#busy = true
      this.#timer = setTimeout(this.#writeBatch, GATHER_MS)
      this.#timer.unref()
    } else if (this.#timer !== undefined && this.#pendingLength >= BATCH_CHARS) {
      clearTimeout(this.#timer)
      this.#timer = undefined
      setImmediate(this.#writeBatch)
    }
    return true
  }

  /** Calls `done` once everything queued so far is written (pino's `logger.flush(cb)`). */
  flush(done?: () => void): void {
    if (!this.#busy && this.#pending.length === 0) return done?.()
    if (done) this.#waiting.push(done)
    // Write now rather than after the wait.
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
      this.#writeBatch()
    }
  }

  /**
   * Writes what is queued synchronously: for exit, when no asynchronous write can finish. Not while a
   * write is under way: it may be stuck on a stdout nobody reads, and exit must not hang behind it.
   */
  flushSync(): void {
    if (this.#writing) return
    const batch = this.#take()
    if (batch) writeAll(this.#fd, batch)
  }

  #take(): Buffer | null {
    if (this.#pending.length === 0) return null
    const text = this.#pending.length === 1 ? this.#pending[0] : this.#pending.join('')
    this.#pending = []
    this.#pendingLength = 0
    return Buffer.from(text)
  }

  /** After a write: idle, write again at once (a full batch, or someone waits), or gather for a while. */
  #next(): void {
    if (this.#pending.length === 0 || this.#pendingLength >= BATCH_CHARS || this.#waiting.length > 0) return this.#writeBatch()
    this.#timer = setTimeout(this.#writeBatch, GATHER_MS)
    this.#timer.unref()
  }

  readonly #writeBatch = (): void => {
    this.#timer = undefined
    const batch = this.#take()
    if (batch === null) {
      this.#busy = false
      this.#writing = false
      const waiting = this.#waiting
      this.#waiting = []
      for (const done of waiting) done()
      return
    }
    this.#writeFrom(batch, 0)
  }

  #writeFrom(batch: Buffer, offset: number): void {
    this.#writing = true
    write(this.#fd, batch, offset, batch.length - offset, null, (error, written) => {
      this.#writing = false
      if (error) {
        if (!this.#failed) {
          this.#failed = true
          this.#onError(error)
        }
        // EAGAIN (a non-blocking pipe that is full) and friends: try again shortly, never spin.
        if (error.code === 'EAGAIN' || error.code === 'EINTR') setTimeout(() => this.#writeFrom(batch, offset), RETRY_MS)
        else setTimeout(() => this.#writeBatch(), RETRY_MS)
        return
      }
      this.#failed = false
      if (offset + written < batch.length) this.#writeFrom(batch, offset + written)
      else this.#next()
    })
  }
}

function writeAll(fd: number, batch: Buffer): void {
  let offset = 0
  for (let attempts = 0; offset < batch.length && attempts < 1000; attempts++) {
    try {
      offset += writeSync(fd, batch, offset)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return
    }
  }
}
