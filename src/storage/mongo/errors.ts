import {
  MongoClientClosedError,
  MongoError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  MongoWriteConcernError,
} from 'mongodb'
import { StoreUnavailableError } from '../ports.ts'

/**
 * Server error codes that mean "not now" rather than "bad request": the node is unreachable, stepping
 * down or shutting down, or the operation ran out of time. https://www.mongodb.com/docs/manual/reference/error-codes/
 */
const UNAVAILABLE_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  50, // MaxTimeMSExpired
  89, // NetworkTimeout
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
])

/** IndexOptionsConflict, IndexKeySpecsConflict: an index exists under our name or key with other options. */
export const INDEX_CONFLICT_CODES = new Set([85, 86])

/** Whether a driver error means the database cannot be reached or cannot answer right now. */
export function isUnavailable(error: unknown): boolean {
  if (
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoTopologyClosedError ||
    error instanceof MongoNotConnectedError ||
    error instanceof MongoClientClosedError ||
    error instanceof MongoServerClosedError ||
    error instanceof MongoOperationTimeoutError ||
    // A driver read cancelled by our deadline's AbortSignal rejects with the signal's reason.
    (error instanceof DOMException && error.name === 'TimeoutError')
  ) {
    return true
  }
  if (error instanceof MongoError && (error.hasErrorLabel('RetryableWriteError') || error.hasErrorLabel('ResetPool'))) return true
  return error instanceof MongoServerError && typeof error.code === 'number' && UNAVAILABLE_CODES.has(error.code)
}

/** The client has no open topology (a failed first connect leaves it so): only `client.connect()` helps. */
export function needsReconnect(error: unknown): boolean {
  return error instanceof MongoTopologyClosedError || error instanceof MongoNotConnectedError
}

/**
 * Whether a write that failed this way may nevertheless have been applied: it reached a server (so it
 * was not refused during server selection) and no reply said it was not. A write-concern error (e.g.
 * code 64, WriteConcernFailed) means the primary applied it but replication was not confirmed.
 */
function mayHaveApplied(error: unknown): boolean {
  // A server's error reply (other than write concern) means it refused the write.
  return error instanceof MongoWriteConcernError || error instanceof MongoNetworkError || error instanceof MongoOperationTimeoutError
}

/** E11000: a unique index refused the write. */
export function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === 11000
}

/**
 * Fails fast while MongoDB is known to be down. After an unavailable error the breaker is open: every
 * operation is refused at once for `cooldownMs`. Then it is half-open: exactly one operation goes
 * through as a probe while the rest are still refused; the probe's success closes the breaker, its
 * failure opens it for another window. A passing health check closes it too. Wall-clock time, not the
 * injected clock, which tests may freeze.
 */
export class Breaker {
  readonly #cooldownMs: number
  #failed = false
  #openUntil = 0
  #probing = false

  constructor(cooldownMs: number) {
    this.#cooldownMs = cooldownMs
  }

  /** Whether an operation may not go through now (open, or half-open with a probe in flight). */
  get open(): boolean {
    return this.#failed && (Date.now() < this.#openUntil || this.#probing)
  }

  /** Whole seconds until a refused caller should try again (at least 1). */
  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.#openUntil - Date.now()) / 1000))
  }

  /** Takes the way through: 'pass' when closed, 'probe' for the one caller let through half-open, else 'refuse'. */
  admit(): 'pass' | 'probe' | 'refuse' {
    if (!this.#failed || this.#cooldownMs <= 0) return 'pass'
    if (this.open) return 'refuse'
    this.#probing = true
    return 'probe'
  }

  trip(): void {
    if (this.#cooldownMs <= 0) return
    this.#failed = true
    this.#probing = false
    this.#openUntil = Date.now() + this.#cooldownMs
  }

  reset(): void {
    this.#failed = false
    this.#probing = false
    this.#openUntil = 0
  }
}

export interface GuardOptions {
  breaker?: Breaker
  /** A write: if it fails after being sent (see `guarded`), the caller is told its outcome is unknown. */
  write?: boolean
  /** Called with every unavailable error (the adapter reconnects and re-checks its indexes). */
  onUnavailable?: (error: unknown) => void
}

/**
 * Runs a database operation, turning "cannot reach the database" into `StoreUnavailableError`. The
 * operation calls `sending()` just before its first write goes out, so a failure in the preparation
 * (index checks) is never reported as a write of unknown outcome.
 */
export async function guarded<T>(operation: (sending: () => void) => Promise<T>, options: GuardOptions = {}): Promise<T> {
  const { breaker } = options
  const admitted = breaker?.admit() ?? 'pass'
  if (admitted === 'refuse') {
    throw new StoreUnavailableError('MongoDB is unavailable (failing fast after a recent failure)', { retryAfterSeconds: breaker!.retryAfterSeconds })
  }
  let sent = false
  try {
    const result = await operation(() => {
      sent = true
    })
    if (admitted === 'probe') breaker!.reset()
    return result
  } catch (error) {
    const unavailable = isUnavailable(error)
    if (unavailable) {
      breaker?.trip()
      options.onUnavailable?.(error)
    } else if (admitted === 'probe') {
      // The database answered (with some other error): it is reachable.
      breaker!.reset()
    }
    if (options.write && sent && mayHaveApplied(error)) {
      throw new StoreUnavailableError('MongoDB did not confirm the write; it may have been applied', { cause: error, outcomeUnknown: true })
    }
    if (unavailable) throw new StoreUnavailableError('MongoDB is unavailable', { cause: error })
    throw error
  }
}
