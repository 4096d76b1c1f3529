import { systemClock, type Clock, type TimerHandle } from '../../kernel/clock.ts'
import { problems } from '../../kernel/problem.ts'
import { defineMiddleware, type StageMiddleware } from '../../pipeline/index.ts'

export interface TimeoutOptions {
  /** Budget for the rest of the chain to produce a response, in milliseconds. */
  ms: number
  /** Default: the system clock. */
  clock?: Clock
}

interface Pending {
  deadline: number
  expire: () => void
}

/**
 * Answers 504 (a problem with the request id) when the rest of the chain has not produced a response
 * within `ms`, or 408 when its body is still arriving then (a slow client, not a slow server). The
 * handler is not cancelled (Web handlers have no cancellation hook) but its late result is ignored.
 * Streaming routes are placed outside it (they return their headers at once and carry their own idle
 * and total budgets).
 *
 * Hand-rolled rather than Hono's `timeout()`: instead of a timer per request, every request joins one
 * list ordered by deadline (all share the same budget, so arrival order is deadline order) and a single
 * sweep timer runs while requests are pending; when the list empties the timer is not cleared (a
 * serial client would otherwise pay a timer per request) but fires once more, finds nothing, and
 * stops. Precision is a tenth of the budget (at most 1 s), plenty for a budget of seconds.
 */
export function timeout(options: TimeoutOptions): StageMiddleware {
  const { ms } = options
  const clock = options.clock ?? systemClock
  const tick = Math.max(1, Math.min(1000, Math.floor(ms / 10)))
  const pending = new Set<Pending>()
  let sweeping: TimerHandle | undefined

  const sweep = () => {
    sweeping = undefined
    const now = clock.now()
    for (const entry of pending) {
      if (entry.deadline > now) break
      pending.delete(entry)
      entry.expire()
    }
    if (pending.size > 0) schedule()
  }
  const schedule = () => {
    // The next expiry or one tick from now, whichever comes later: never a busy loop, never late by more than a tick.
    const first = pending.values().next().value as Pending
    // A sweep left over after the last request must not keep the process alive.
    sweeping = clock.setTimeout(sweep, Math.max(tick, first.deadline - clock.now()), { unref: true })
  }

  return defineMiddleware({
    name: 'timeout',
    around: (_c, scope, next) => {
      const outcome = next()
      // A handler that answered synchronously cannot have run over.
      if (!(outcome instanceof Promise)) return outcome
      return new Promise<void>((resolve, reject) => {
        const entry: Pending = { deadline: clock.now() + ms, expire: () => reject(scope.receiving ? problems.requestTimeout() : problems.gatewayTimeout()) }
        pending.add(entry)
        if (sweeping === undefined) schedule()
        outcome.then(
          () => {
            pending.delete(entry)
            resolve()
          },
          (error: unknown) => {
            pending.delete(entry)
            reject(error)
          },
        )
      })
    },
  })
}
