import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../../env.ts'
import { problems } from '../../errors/problem.ts'

export interface TimeoutOptions {
  /** Budget for the rest of the chain to produce a response, in milliseconds. */
  ms: number
  /** Requests this returns true for (streams) are not bounded here. Default: none exempt. */
  exempt?: (path: string) => boolean
}

/**
 * Answers 504 (a problem with the request id) when the rest of the chain has not produced a response
 * within `ms`. The handler is not cancelled (Web handlers have no cancellation hook) but its late result
 * is ignored. Streaming routes are exempt: they return their headers at once and carry their own idle
 * and total budgets.
 *
 * Hand-rolled rather than Hono's `timeout()`: one timer and one promise per request, no `Promise.race`,
 * and the error is our problem type.
 */
export function timeout(options: TimeoutOptions): MiddlewareHandler<AppEnv> {
  const { ms, exempt } = options
  return function timeoutMiddleware(c, next) {
    if (exempt !== undefined && exempt(c.req.path)) return next()
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(problems.gatewayTimeout()), ms)
      next().then(
        () => {
          clearTimeout(timer)
          resolve()
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(error)
        },
      )
    })
  }
}
