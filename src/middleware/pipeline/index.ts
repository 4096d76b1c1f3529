import type { Context, ErrorHandler, Handler, Hono, MiddlewareHandler, Next, NotFoundHandler } from 'hono'
import type { AppEnv } from '../../env.ts'
import { requestState } from '../../http/request-state.ts'

/** What a handler produces: a Response, or nothing when it set `c.res` (a middleware-style handler). */
type HandlerOutcome = Response | void | Promise<Response | void>

/** The handler (or the rest of the chain) the stages run around, passed with its `next`: no closure per request. */
type Call = (c: Context<AppEnv>, next: Next) => HandlerOutcome

/** What the rest of the chain gives an `around`: done, now or later; the response is then on `c.res`. */
export type Outcome = void | Promise<void>

/**
 * One middleware's work, split into hooks so a whole chain runs in one call.
 *
 * Every Hono middleware layer costs an async function, a compose step and a promise per request; on
 * Bun about a microsecond each, and any of them takes @hono/node-server off its synchronous response
 * path. Most of our middleware only does a little work before the handler and/or a little after it,
 * so the app runs them as stages of one pipeline instead, in the same order and with the same meaning
 * as a chain of `app.use()` calls: around each endpoint (`endpointPipeline`), so a request whose
 * stages and handler are all synchronous is answered synchronously, or as one middleware
 * (`pipeline`). Each middleware still exists on its own (`asMiddleware(stage)`), for its tests and
 * for anyone who wants one piece.
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
   * must run across it: a deadline race, an active tracing context, checking a counted body. `next()`
   * finishes synchronously when the handler did: return what it returns rather than awaiting it.
   * The response is on `c.res` once it has finished.
   * Arounds nest in chain order among themselves, inside every `before` hook.
   */
  around?: (c: Context<AppEnv>, next: () => Outcome) => Outcome
  /**
   * Once `c.res` is final, in reverse chain order: after the handler, a later stage's answer or an
   * error response. Not called when this stage's own `before` answered or threw.
   */
  after?: (c: Context<AppEnv>) => void
}

export interface PipelineOptions {
  /**
   * Turns an error thrown by a stage or the handler into the response (the app's `onError`), so the
   * outer stages (access log, metrics, response headers) see it. Without one the error propagates
   * to Hono, and no `after` hook runs for it.
   */
  onError?: ErrorHandler<AppEnv>
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
 * The stages' runner: `call` is the handler (or the rest of the chain). Synchronous from end to end
 * when every hook and `call` are; a promise from the first asynchronous step on.
 */
function runner(stages: Stage[], options: PipelineOptions) {
  const { onError } = options
  const befores = stages.map((stage) => stage.before)
  const afters = stages.map((stage) => stage.after)
  const arounds = stages.flatMap((stage) => (stage.around ? [stage.around] : []))
  const count = stages.length

  /** Runs the afters of stages [0, entered) and hands back the final response. */
  const finish = (c: Context<AppEnv>, entered: number): Response => {
    for (let i = entered - 1; i >= 0; i--) afters[i]?.(c)
    return c.res
  }
  const answered = (c: Context<AppEnv>, answer: Response | void, entered: number): Response => {
    keep(c, answer)
    return finish(c, entered)
  }
  const fail = (c: Context<AppEnv>, error: unknown, entered: number): Response | Promise<Response> => {
    if (!onError || !(error instanceof Error)) throw error
    c.error = error
    // Clearing first stops Hono from copying an earlier response's headers onto the error response.
    c.res = undefined
    const response = onError(error, c)
    return response instanceof Promise
      ? response.then((resolved) => answered(c, resolved, entered))
      : answered(c, response, entered)
  }
  /** Calls the handler and puts its response on `c.res` as soon as there is one. */
  const respond = (c: Context<AppEnv>, call: Call, next: Next): Outcome => {
    const outcome = call(c, next)
    if (outcome instanceof Promise) return outcome.then((response) => keep(c, response))
    keep(c, outcome)
  }
  const aroundFrom = (c: Context<AppEnv>, call: Call, next: Next, index: number): Outcome =>
    index === arounds.length ? respond(c, call, next) : arounds[index](c, () => aroundFrom(c, call, next, index + 1))
  const invoke = (c: Context<AppEnv>, call: Call, next: Next): Response | Promise<Response> => {
    let outcome: Outcome
    try {
      outcome = arounds.length === 0 ? respond(c, call, next) : aroundFrom(c, call, next, 0)
    } catch (error) {
      return fail(c, error, count)
    }
    return outcome instanceof Promise
      ? outcome.then(
          () => finish(c, count),
          (error: unknown) => fail(c, error, count),
        )
      : finish(c, count)
  }
  const runFrom = (c: Context<AppEnv>, call: Call, next: Next, start: number): Response | Promise<Response> => {
    for (let i = start; i < count; i++) {
      const before = befores[i]
      if (before === undefined) continue
      let answer: void | Response | Promise<void | Response>
      try {
        answer = before(c)
      } catch (error) {
        return fail(c, error, i)
      }
      if (answer instanceof Promise) {
        return answer.then(
          (resolved) => (resolved ? answered(c, resolved, i) : runFrom(c, call, next, i + 1)),
          (error: unknown) => fail(c, error, i),
        )
      }
      if (answer) return answered(c, answer, i)
    }
    return invoke(c, call, next)
  }
  return (c: Context<AppEnv>, call: Call, next: Next) => runFrom(c, call, next, 0)
}

/** The rest of a middleware chain as a `Call`. */
const callNext: Call = (_c, next) => next() as Promise<void>

/** Runs `stages` as one Hono middleware: befores in order, arounds nested, afters in reverse. */
export function pipeline(stages: Stage[], options: PipelineOptions = {}): MiddlewareHandler<AppEnv> {
  const run = runner(stages, options)
  return async function pipelineMiddleware(c, next) {
    // The rest of the chain puts its response on `c.res`; `next()` resolves to the context.
    await run(c, callNext, next)
  }
}

/** Not-found handlers have no `next`. */
const missingNext: Next = () => Promise.resolve()

/** One stage as an ordinary Hono middleware. */
export function asMiddleware(stage: Stage): MiddlewareHandler<AppEnv> {
  return pipeline([stage])
}

/**
 * The pipeline around each endpoint instead of in front of all of them: `wrap(handler)` gives the
 * handler that runs the stages and then `handler`. A route registered with one wrapped handler is the
 * only handler its requests match, so Hono calls it directly, and when the stages and the handler
 * answer synchronously the runtime gets the Response synchronously (no compose, no promise).
 * A request runs the stages once even when it reaches a second wrapped handler (say a handler that
 * falls through to the wrapped not-found handler).
 */
export function endpointPipeline(stages: Stage[], options: PipelineOptions = {}) {
  const run = runner(stages, options)
  function wrap(handler: Handler<AppEnv> | MiddlewareHandler<AppEnv>): Handler<AppEnv> {
    const call = handler as Call
    return function pipelineEndpoint(c, next) {
      const state = requestState(c)
      if (state.pipelined) return call(c, next) as Response | Promise<Response>
      state.pipelined = true
      return run(c, call, next)
    }
  }
  /**
   * Registers every route of `sub` on `app` under `base` (as `app.route(base, sub)` does), with the
   * first handler of each endpoint wrapped; the handlers after it (say a validator's endpoint) run
   * inside it through Hono's compose.
   */
  function mount(app: Hono<AppEnv, any, any>, base: string, sub: Hono<AppEnv, any, any>): void {
    const under = app.basePath(base)
    let previous: { method: string; path: string } | undefined
    for (const route of sub.routes) {
      const first = previous === undefined || previous.method !== route.method || previous.path !== route.path
      under.on(route.method, route.path, first ? wrap(route.handler) : route.handler)
      previous = route
    }
  }
  /** The not-found handler (`app.notFound`) with the stages around it. */
  function notFound(handler: NotFoundHandler<AppEnv>): NotFoundHandler<AppEnv> {
    const wrapped = wrap((c) => handler(c))
    return (c) => wrapped(c, missingNext) as Response | Promise<Response>
  }
  return { wrap, mount, notFound }
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
