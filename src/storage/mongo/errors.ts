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

/** Whether a driver error means the database cannot be reached or cannot answer right now. */
export function isUnavailable(error: unknown): boolean {
  if (
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoTopologyClosedError ||
    error instanceof MongoNotConnectedError ||
    error instanceof MongoClientClosedError ||
    error instanceof MongoServerClosedError ||
    error instanceof MongoOperationTimeoutError
  ) {
    return true
  }
  if (error instanceof MongoError && (error.hasErrorLabel('RetryableWriteError') || error.hasErrorLabel('ResetPool'))) return true
  return error instanceof MongoServerError && typeof error.code === 'number' && UNAVAILABLE_CODES.has(error.code)
}

/** E11000: a unique index refused the write. */
export function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === 11000
}

/**
 * Fails fast while MongoDB is known to be down: after an unavailable error, operations are refused at
 * once for `cooldownMs` instead of each waiting out server selection; one request per window (or a
 * passing health check) tries the database again. Wall-clock time, not the injected clock, which
 * tests may freeze.
 */
export class Breaker {
  readonly #cooldownMs: number
  #openUntil = 0

  constructor(cooldownMs: number) {
    this.#cooldownMs = cooldownMs
  }

  get open(): boolean {
    return Date.now() < this.#openUntil
  }

  trip(): void {
    this.#openUntil = Date.now() + this.#cooldownMs
  }

  reset(): void {
    this.#openUntil = 0
  }
}

/** Runs a database operation, turning "cannot reach the database" into `StoreUnavailableError`. */
export async function guarded<T>(operation: () => Promise<T>, breaker?: Breaker): Promise<T> {
  if (breaker?.open) throw new StoreUnavailableError('MongoDB is unavailable (failing fast after a recent failure)')
  try {
    return await operation()
  } catch (error) {
    if (!isUnavailable(error)) throw error
    breaker?.trip()
    throw new StoreUnavailableError('MongoDB is unavailable', { cause: error })
  }
}

/** Runs each operation once the indexes are ready, through `guarded` (so failures fail fast). */
export function guardedRunner(ready: () => Promise<void>, breaker?: Breaker) {
  return <T>(operation: () => Promise<T>): Promise<T> =>
    guarded(async () => {
      await ready()
      return operation()
    }, breaker)
}
