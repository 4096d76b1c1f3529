import { Buffer } from 'node:buffer'
import { writeSync } from 'node:fs'

export interface LogSinkOptions {
  /** File descriptor written to. Default 1 (stdout). */
  fd?: number
  /** Lines are gathered until they reach this many characters. Default 16384. */
  bufferSize?: number
  /** Gathered lines are written at most this long after the first of them. Default 250 ms. */
  flushIntervalMs?: number
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/**
 * pino's destination for the process runtimes: lines are joined into one string and written with one
 * synchronous `write(2)` per ~16 KiB, or 250 ms after the first pending line, and on `flush()`.
 * Only this process writes its stdout, so writes larger than a pipe's atomic 4 KiB are fine.
 *
 * Why not `pino.destination({ minLength })` (sonic-boom), which does the same: it measures every line
 * with `Buffer.byteLength` and keeps a write callback per line, which costs ~1 µs a line on Node
 * and several on Bun, where the access log writes one line per request. Here a line costs an array
 * push; lines are joined and encoded once per write.
 */
export class LogSink {
  readonly #fd: number
  readonly #bufferSize: number
  readonly #flushIntervalMs: number
  /** Lines waiting, and their length in UTF-16 units (joined once per write: cheaper than `+=` ropes). */
  #pending: string[] = []
  #pendingLength = 0
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(options: LogSinkOptions = {}) {
    this.#fd = options.fd ?? 1
    this.#bufferSize = options.bufferSize ?? 16_384
    this.#flushIntervalMs = options.flushIntervalMs ?? 250
  }

  write(line: string): boolean {
    this.#pending.push(line)
    this.#pendingLength += line.length
    if (this.#pendingLength >= this.#bufferSize) this.#flushQuietly()
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flushQuietly(), this.#flushIntervalMs)
      // Pending lines must not keep the process alive; exit paths call flushSync.
      ;(this.#timer as { unref?: () => void }).unref?.()
    }
    return true
  }

  /** From a request or a timer: a closed or stuck stdout drops lines instead of failing a request. */
  #flushQuietly(): void {
    try {
      this.flushSync()
    } catch {
      // Nowhere left to report it: the log is the report.
    }
  }

  /** pino's `logger.flush(cb)` lands here. */
  flush(callback?: (error?: Error) => void): void {
    try {
      this.flushSync()
      callback?.()
    } catch (error) {
      callback?.(error as Error)
    }
  }

  /** Writes every pending line now. Partial writes continue; a non-blocking pipe that is full is waited for. */
  flushSync(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    if (this.#pending.length === 0) return
    const bytes = Buffer.from(this.#pending.join(''), 'utf8')
    this.#pending = []
    this.#pendingLength = 0
    let offset = 0
    for (let attempts = 0; offset < bytes.length; ) {
      try {
        offset += writeSync(this.#fd, bytes, offset)
      } catch (error) {
        // stdout may be a non-blocking pipe whose reader is behind: wait a little, then give up
        // rather than hang (losing log lines beats blocking every request).
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || ++attempts > 100) throw error
        sleep(10)
      }
    }
  }
}
