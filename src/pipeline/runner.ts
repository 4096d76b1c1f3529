import type { Context, ErrorHandler, Next } from 'hono'
import type { AppEnv } from '../env.ts'
import { applyHeaders, reportEnd, type FailureReport } from './finish.ts'
import type { RequestScope } from './scope.ts'
import { guardAround, observed, type Outcome, type Stage } from './stage.ts'

/** What a handler produces: a Response, or nothing when it set `c.res` (a middleware-style handler). */
type HandlerOutcome = Response | void | Promise<Response | void>

/** The handler the stages run around, passed with its `next`: no closure per request. */
export type Call = (c: Context<AppEnv>, next: Next) => HandlerOutcome

export interface RunnerOptions {
  /** Turns an error thrown by a stage or the handler into the response (the app's `onError`). */
  onError: ErrorHandler<AppEnv>
  /** Where observers' failures go. */
  report: FailureReport
}

/**
 * Puts a handler's response on `c.res`. A middleware-style handler (a validator in front of its
 * endpoint) hands back what Hono's `next()` resolved to, the context itself: the response is already
 * on `c.res` then.
 */
function keep(c: Context<AppEnv>, response: Response | void): void {
  if (response && (response as unknown) !== c) c.res = response
}

/**
 * Runs `stages` around a handler: befores in order, arounds nested inside them, then the handler,
 * afters in reverse, and last the gathered headers onto the response and the end listeners. Synchronous
 * from end to end when every hook and the handler are; a promise from the first asynchronous step on
 * (each layer of Hono's own compose costs an async function and a promise per request, and takes
 * @hono/node-server off its synchronous response path).
 */
export function runner(stages: Stage[], options: RunnerOptions) {
  const { onError, report } = options
  const befores = stages.map((stage) =>
    stage.before && stage.observer ? (c: Context<AppEnv>, s: RequestScope) => observed(stage, report, () => stage.before!(c, s)) : stage.before,
  )
  const afters = stages.map((stage) =>
    stage.after && stage.observer ? (c: Context<AppEnv>, s: RequestScope) => void observed(stage, report, () => stage.after!(c, s)) : stage.after,
  )
  const arounds = stages.flatMap((stage) => (stage.around ? [guardAround(stage, report)] : []))
  const count = stages.length

  /** Runs the afters of stages [0, entered), applies the headers, reports the end; the final response. */
  const finish = (c: Context<AppEnv>, scope: RequestScope, entered: number): Response => {
    scope.responded()
    for (let i = entered - 1; i >= 0; i--) afters[i]?.(c, scope)
    applyHeaders(c, scope)
    reportEnd(c, scope, report)
    return c.res
  }
  const answered = (c: Context<AppEnv>, scope: RequestScope, answer: Response | void, entered: number): Response => {
    keep(c, answer)
    return finish(c, scope, entered)
  }
  const fail = (c: Context<AppEnv>, scope: RequestScope, error: unknown, entered: number): Response | Promise<Response> => {
    if (!(error instanceof Error)) throw error
    c.error = error
    // Clearing first stops Hono from copying an earlier response's headers onto the error response.
    c.res = undefined
    const response = onError(error, c)
    return response instanceof Promise
      ? response.then((resolved) => answered(c, scope, resolved, entered))
      : answered(c, scope, response, entered)
  }
  const respond = (c: Context<AppEnv>, call: Call, next: Next): Outcome => {
    const outcome = call(c, next)
    if (outcome instanceof Promise) return outcome.then((response) => keep(c, response))
    keep(c, outcome)
  }
  const aroundFrom = (c: Context<AppEnv>, scope: RequestScope, call: Call, next: Next, index: number): Outcome =>
    index === arounds.length
      ? respond(c, call, next)
      : arounds[index](c, scope, () => aroundFrom(c, scope, call, next, index + 1))
  const invoke = (c: Context<AppEnv>, scope: RequestScope, call: Call, next: Next): Response | Promise<Response> => {
    let outcome: Outcome
    try {
      outcome = arounds.length === 0 ? respond(c, call, next) : aroundFrom(c, scope, call, next, 0)
    } catch (error) {
      return fail(c, scope, error, count)
    }
    return outcome instanceof Promise
      ? outcome.then(
          () => finish(c, scope, count),
          (error: unknown) => fail(c, scope, error, count),
        )
      : finish(c, scope, count)
  }
  const runFrom = (c: Context<AppEnv>, scope: RequestScope, call: Call, next: Next, start: number): Response | Promise<Response> => {
    for (let i = start; i < count; i++) {
      const before = befores[i]
      if (before === undefined) continue
      let answer: void | Response | Promise<void | Response>
      try {
        answer = before(c, scope)
      } catch (error) {
        return fail(c, scope, error, i)
      }
      if (answer instanceof Promise) {
        return answer.then(
          (resolved) => (resolved ? answered(c, scope, resolved, i) : runFrom(c, scope, call, next, i + 1)),
          (error: unknown) => fail(c, scope, error, i),
        )
      }
      if (answer) return answered(c, scope, answer, i)
    }
    return invoke(c, scope, call, next)
  }
  return (c: Context<AppEnv>, scope: RequestScope, call: Call, next: Next) => runFrom(c, scope, call, next, 0)
}
