import type { Context, ErrorHandler, MiddlewareHandler, Next } from 'hono'
import type { AppEnv } from '../../env.ts'

/**
 * One middleware's work, split into hooks so a whole chain runs as a single Hono middleware.
 *
 * Every Hono middleware layer costs an async function, a compose step and a promise per request; on
 * Bun about a microsecond each. Most of our middleware only does a little work before the handler
 * and/or a little after it, so the app runs them as stages of one `pipeline()` instead, in the same
 * order and with the same meaning as a chain of `app.use()` calls. Each middleware still exists on
 * its own (`asMiddleware(stage)`), for its tests and for anyone who wants one piece.
 */
export interface Stage {
  /** For stack traces and the benchmark's ablation. */
  name: string
  /**
   * Before the handler, in chain order. Returning a Response answers the request (later stages and
   * the handler do not run); throwing answers it through the error handler. A promise only when the
   * work is really asynchronous: each `await` costs a microtask turn.
   */
  before?: (c: Context<AppEnv>) => void | Response | Promise<void | Response>
  /**
   * Wraps everything after the `before` hooks (the handler and the stages that follow), for work that
   * must run across it: a deadline race, an active tracing context, checking a counted body.
   * Arounds nest in chain order among themselves, inside every `before` hook.
   */
  around?: (c: Context<AppEnv>, next: () => Promise<void>) => Promise<void>
  /**
   * Once `c.res` is final, in reverse chain order: after the handler, a later stage's answer or an
   * error response. Not called when this stage's own `before` answered or threw.
   */
  after?: (c: Context<AppEnv>) => void
}

export interface PipelineOptions {
  /**
   * Turns an error thrown by a stage into the response (the app's `onError`), so the outer stages
   * (access log, metrics, response headers) see it. Without one the error propagates to Hono, and
   * no `after` hook runs for it.
   */
  onError?: ErrorHandler<AppEnv>
}

/** Runs `stages` as one Hono middleware: befores in order, arounds nested, afters in reverse. */
export function pipeline(stages: Stage[], options: PipelineOptions = {}): MiddlewareHandler<AppEnv> {
  const { onError } = options
  const befores = stages.map((stage) => stage.before)
  const afters = stages.map((stage) => stage.after)
  const arounds = stages.flatMap((stage) => (stage.around ? [stage.around] : []))
  const count = stages.length

  const runArounds = (c: Context<AppEnv>, next: Next, index: number): Promise<void> => {
    if (index === arounds.length) return next() as Promise<unknown> as Promise<void>
    return arounds[index](c, () => runArounds(c, next, index + 1))
  }

  return async function pipelineMiddleware(c, next) {
    // Stages [0, entered) completed their `before` and get their `after`.
    let entered = 0
    try {
      for (; entered < count; entered++) {
        const before = befores[entered]
        if (before === undefined) continue
        let answer = before(c)
        if (answer instanceof Promise) answer = await answer
        if (answer) {
          c.res = answer
          break
        }
      }
      if (entered === count) await (arounds.length === 0 ? next() : runArounds(c, next, 0))
    } catch (error) {
      if (!onError || !(error instanceof Error)) throw error
      c.error = error
      // Clearing first stops Hono from copying an earlier response's headers onto the error response.
      c.res = undefined
      c.res = await onError(error, c)
    }
    for (let i = Math.min(entered, count) - 1; i >= 0; i--) afters[i]?.(c)
  }
}

/** One stage as an ordinary Hono middleware. */
export function asMiddleware(stage: Stage): MiddlewareHandler<AppEnv> {
  return pipeline([stage])
}

/** `stage` for `prefix` and the paths below it only, as `app.use('/api/*', ...)` would mount it. */
export function onlyUnder(prefix: string, stage: Stage): Stage {
  const below = `${prefix}/`
  const applies = (c: Context<AppEnv>) => {
    const path = c.req.path
    return path.startsWith(below) || path === prefix
  }
  const { before, around, after } = stage
  return {
    name: stage.name,
    before: before && ((c) => (applies(c) ? before(c) : undefined)),
    around: around && ((c, next) => (applies(c) ? around(c, next) : next())),
    after: after && ((c) => (applies(c) ? after(c) : undefined)),
  }
}
