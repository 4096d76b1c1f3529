import type { Context, MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env.ts'
import { HttpProblem } from '../kernel/problem.ts'
import { applyHeaders, reportEnd, throttledReport, type FailureReport } from './finish.ts'
import { problem } from './respond.ts'
import { scopeOf, type RequestScope } from './scope.ts'

/** What the rest of the chain gives an `around`: done, now or later; the response is then on `c.res`. */
export type Outcome = void | Promise<void>

/**
 * One middleware's work as hooks, so a whole chain can run in one call (`createPipeline`) as well as
 * one `app.use()` layer each (`defineMiddleware`), with the same meaning either way.
 */
export interface Stage {
  /** Names the middleware in stack traces and failure reports. */
  name: string
  /**
   * An observer (access log, metrics, tracing): its failures are reported once and never change the
   * response or stop the server.
   */
  observer?: boolean
  /**
   * Before the handler, in chain order. Returning a Response answers the request (later stages and
   * the handler do not run); throwing answers it through the error handler (an `HttpProblem` becomes
   * its problem response). A promise only when the work is really asynchronous.
   */
  before?: (c: Context<AppEnv>, scope: RequestScope) => void | Response | Promise<void | Response>
  /**
   * Wraps everything after the `before` hooks (the handler and the stages that follow), for work that
   * must run across it: a deadline race, an active tracing context. `next()` finishes synchronously
   * when the handler did: return what it returns rather than awaiting it.
   */
  around?: (c: Context<AppEnv>, scope: RequestScope, next: () => Outcome) => Outcome
  /**
   * Once `c.res` is final (the handler's, a later stage's answer or an error response), in reverse
   * chain order. Not called when this stage's own `before` answered or threw.
   */
  after?: (c: Context<AppEnv>, scope: RequestScope) => void
}

/** A Hono middleware that is also a stage: `app.use(m)` runs it as one layer, `createPipeline` as a stage. */
export type StageMiddleware = MiddlewareHandler<AppEnv> & { readonly stage: Stage }

/** Middleware used on their own report observer failures here; the app's pipeline reports to its logger. */
const consoleReport: FailureReport = throttledReport((stage, error, suppressed) => {
  console.error(`assistant-server: ${stage} failed; the response went out unchanged${suppressed ? ` (${suppressed} more failures not shown)` : ''}`, error)
})

/** Runs an observer's hook so that its failure is reported instead of thrown. */
export function observed<T>(stage: Stage, report: FailureReport, hook: () => T): T | undefined {
  try {
    const result = hook()
    if (result instanceof Promise) {
      return result.catch((error: unknown) => {
        report(stage.name, error)
        return undefined
      }) as T
    }
    return result
  } catch (error) {
    report(stage.name, error)
    return undefined
  }
}

/**
 * An observer's `around` that throws before calling `next` is reported and skipped; anything thrown
 * once `next` ran belongs to the handler.
 */
export function guardAround(stage: Stage, report: FailureReport) {
  const around = stage.around!
  if (!stage.observer) return around
  return (c: Context<AppEnv>, scope: RequestScope, next: () => Outcome): Outcome => {
    let called = false
    const onward = () => {
      called = true
      return next()
    }
    try {
      return around(c, scope, onward)
    } catch (error) {
      if (called) throw error
      report(stage.name, error)
      return next()
    }
  }
}

/**
 * `stage` as an ordinary Hono middleware: `app.use(m)` works on any Hono app, its headers land on
 * whatever response the handler makes, and a problem it throws is answered as problem+json. The
 * outermost such middleware of a request applies the gathered headers and reports the response's end.
 */
export function defineMiddleware(stage: Stage): StageMiddleware {
  const { before, after } = stage
  const around = stage.around && guardAround(stage, consoleReport)
  const guard = stage.observer === true
  const middleware: MiddlewareHandler<AppEnv> = async (c, next) => {
    const scope = scopeOf(c)
    const owner = !scope.owned
    scope.owned = true
    try {
      const answer = before && (guard ? await observed(stage, consoleReport, () => before(c, scope)) : await before(c, scope))
      if (answer) {
        c.res = undefined
        c.res = answer
      } else {
        if (around) await around(c, scope, () => next() as Promise<void>)
        else await next()
        if (after) {
          if (guard) observed(stage, consoleReport, () => after(c, scope))
          else after(c, scope)
        }
      }
    } catch (error) {
      if (!(error instanceof HttpProblem)) throw error
      c.res = undefined
      c.res = problem(c, error)
    }
    if (!owner) return
    scope.responded()
    applyHeaders(c, scope)
    reportEnd(c, scope, consoleReport)
  }
  Object.defineProperty(middleware, 'name', { value: stage.name })
  return Object.assign(middleware, { stage })
}
