import { MongoOperationTimeoutError } from 'mongodb'
import { StoreUnavailableError } from '../ports.ts'
import type { MongoConnection } from './connection.ts'
import { guarded, needsReconnect, type Breaker } from './errors.ts'
import type { CollectionName, IndexKeeper } from './indexes.ts'

/**
 * What a store operation gets: the deadline's signal, passed to every driver read (the driver types it
 * for reads only), and `sending()`, called just before its first write.
 */
export interface OperationContext {
  readonly signal: AbortSignal
  sending(): void
}

/** Runs one store operation, bounded as a whole by the operation timeout. */
export type Runner = <T>(operation: (op: OperationContext) => Promise<T>, options?: { write?: boolean }) => Promise<T>

export interface Gate {
  /** A runner for operations on these collections (their indexes must be in place). */
  runner(collections: readonly CollectionName[]): Runner
}

/**
 * What every store operation passes through: refused at once while not connected or while the breaker
 * is open; waits for its collections' indexes; answers within `timeoutMs` whatever it waits for. An
 * unavailable error trips the breaker, marks the indexes for another check, and a closed topology
 * sends the connection back to reconnecting.
 */
export function createGate(parts: { connection: MongoConnection; indexes: IndexKeeper; breaker: Breaker; timeoutMs: number }): Gate {
  const { connection, indexes, breaker, timeoutMs } = parts
  const onUnavailable = (error: unknown) => {
    indexes.suspect()
    if (needsReconnect(error)) connection.lost(error)
  }
  return {
    runner: (collections) => (operation, options) => {
      if (!connection.connected) {
        return Promise.reject(new StoreUnavailableError('MongoDB is not connected yet; connecting in the background'))
      }
      const signal = AbortSignal.timeout(timeoutMs)
      return guarded(
        (sending) =>
          withDeadline(signal, timeoutMs, async () => {
            await indexes.require(collections)
            return operation({ signal, sending })
          }),
        { breaker, write: options?.write, onUnavailable },
      )
    },
  }
}

/**
 * Settles by the deadline: driver 7 ignores its `timeoutMS` option (deprecated, "has no effect"), so the
 * bound is ours. Reads given the signal are cancelled by the driver itself; a write left running ends
 * by the driver's socket timeout, and its caller is told the outcome is unknown.
 */
export function withDeadline<T>(signal: AbortSignal, timeoutMs: number, task: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const expire = () => reject(new MongoOperationTimeoutError(`MongoDB did not answer within ${timeoutMs} ms`))
    if (signal.aborted) return expire()
    signal.addEventListener('abort', expire, { once: true })
    task().then(
      (value) => {
        signal.removeEventListener('abort', expire)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', expire)
        if (signal.aborted) expire()
        else reject(error)
      },
    )
  })
}
