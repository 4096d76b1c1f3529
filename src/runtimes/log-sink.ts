import { Buffer } from 'node:buffer'
import { write, writeSync } from 'node:fs'

export interface LogSinkOptions {
  /** File descriptor written to. Default 1 (stdout). */
  fd?: number
  /** Bytes held while the descriptor is not taking them (a stalled pipe, a full disk); past this, lines are dropped. Default 16 MiB. */
  maxPendingBytes?: number
  /** Told once when writing fails, with the error; lines keep being tried. Default: a line on stderr. */
  onError?: (error: NodeJS.ErrnoException) => void
}

const RETRY_MS = 100
/** How long queued lines may wait for company: one write per ~this long under load, at most this late. */
const GATHER_MS = 100
/** Lines are encoded into chunks of this size; a full chunk is written at once, whatever the wait. */
const CHUNK_BYTES = 64 * 1024

/**
 * pino's destination for the process runtimes: lines are encoded into a buffer as they come and
 * written asynchronously, the lines of up to `GATHER_MS` (or a `CHUNK_BYTES` chunk) in one `write(2)`,
 * so the event loop never blocks on stdout (a slow pipe, a terminal, EAGAIN) and a busy server makes a
 * few writes a second, not one per line (a write costs a few microseconds of the main thread even when
 * the thread pool does it).
 *
 * Not `pino.destination({ sync: false })` (sonic-boom), measured in `npm run bench -- --profile`: it
 * calls `Buffer.byteLength` on its growing buffer string for every line, which flattens the string each
 * time, about 4 µs per access-log line on this machine, where the whole chain's budget over bare Hono
 * is a few microseconds. Here a line costs one `buffer.write` (~0.25 µs for an access-log line).
 */
export class LogSink {
  readonly #fd: number
  readonly #maxPending: number
  readonly #onError: (error: NodeJS.ErrnoException) => void
  /** Full chunks waiting to be written, and the one being filled. */
  #queue: Buffer[] = []
  #chunk = Buffer.allocUnsafe(CHUNK_BYTES)
  #used = 0
  #pendingBytes = 0
  /** A write is under way or scheduled. */
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
    // A UTF-16 unit is at most 3 UTF-8 bytes: room for that much, or a fresh chunk.
    const worst = line.length * 3
    if (this.#pendingBytes + line.length > this.#maxPending) return false
    if (worst > CHUNK_BYTES - this.#used) {
      this.#seal()
      if (worst > CHUNK_BYTES) {
        const big = Buffer.from(line)
        this.#queue.push(big)
        this.#pendingBytes += big.length
        this.#schedule()
        return true
      }
    }
    const bytes = this.#chunk.write(line, this.#used)
    this.#used += bytes
    this.#pendingBytes += bytes
    this.#schedule()
    return true
  }

  /** Calls `done` once everything queued so far is written (pino's `logger.flush(cb)`). */
  flush(done?: () => void): void {
    if (!this.#busy && this.#pendingBytes === 0) return done?.()
    if (done) this.#waiting.push(done)
    // Write now rather than after the wait.
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
      this.#writeNext()
    }
  }

  /**
   * Writes what is queued synchronously: for exit, when no asynchronous write can finish. Not while a
   * write is under way: it may be stuck on a stdout nobody reads, and exit must not hang behind it.
   */
  flushSync(): void {
    if (this.#writing) return
    this.#seal()
    for (const batch of this.#queue) writeAll(this.#fd, batch)
    this.#queue = []
    this.#pendingBytes = 0
  }

  /** Moves the chunk being filled to the queue. */
  #seal(): void {
    if (this.#used === 0) return
    this.#queue.push(this.#chunk.subarray(0, this.#used))
    this.#chunk = Buffer.allocUnsafe(CHUNK_BYTES)
    this.#used = 0
  }

  #schedule(): void {
    if (!this.#busy) {
      this.#busy = true
      this.#timer = setTimeout(this.#writeNext, GATHER_MS)
      this.#timer.unref()
    } else if (this.#timer !== undefined && this.#queue.length > 0) {
      // A full chunk is waiting: no reason to wait for more.
      clearTimeout(this.#timer)
      this.#timer = undefined
      setImmediate(this.#writeNext)
    }
  }

  /** After a write: idle, write again at once (a full chunk, or someone waits), or gather for a while. */
  #next(): void {
    if (this.#pendingBytes === 0 || this.#queue.length > 0 || this.#waiting.length > 0) return this.#writeNext()
    this.#timer = setTimeout(this.#writeNext, GATHER_MS)
    this.#timer.unref()
  }

  readonly #writeNext = (): void => {
    this.#timer = undefined
    if (this.#queue.length === 0) this.#seal()
    const batch = this.#queue.shift()
    if (batch === undefined) {
      this.#busy = false
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
        // EAGAIN (a non-blocking pipe that is full) and friends: try again shortly, never spin. Other
        // errors (EPIPE, ENOSPC) drop this batch and try the next one later.
        if (error.code === 'EAGAIN' || error.code === 'EINTR') setTimeout(() => this.#writeFrom(batch, offset), RETRY_MS)
        else {
          this.#pendingBytes -= batch.length - offset
          setTimeout(this.#writeNext, RETRY_MS)
        }
        return
      }
      this.#failed = false
      this.#pendingBytes -= written
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
