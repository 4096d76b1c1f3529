import type { ErrorHandler, Handler, Hono, MiddlewareHandler, Next, NotFoundHandler } from 'hono'
import type { AppEnv } from '../env.ts'
import type { FailureReport } from './finish.ts'
import type { ProblemFormat } from '../kernel/problem.ts'
import { runner, type Call } from './runner.ts'
import { scopeOf, UNMATCHED_ROUTE } from './scope.ts'
import type { Stage, StageMiddleware } from './stage.ts'

export { StreamProgress, utf8Length, type EndListener, type ResponseEnd } from './end.ts'
export { throttledReport, type FailureReport } from './finish.ts'
export { empty, json, problem, PROBLEM_CONTENT_TYPE, RFC9457, send, streamingResponse } from './respond.ts'
export { RequestScope, scopeOf, UNMATCHED_ROUTE } from './scope.ts'
export { defineMiddleware, type Outcome, type Stage, type StageMiddleware } from './stage.ts'

/** Where a middleware of the chain applies, decided by route template (and for unmatched requests by path). */
export interface Placement {
  /** Only at a prefix and below (`/api` covers `/api` and `/api/...`); a list means any of them. */
  under?: string | readonly string[]
  /** Only where this returns true. */
  only?: (path: string) => boolean
  /** Not where this returns true. */
  except?: (path: string) => boolean
}

/** A middleware of the chain with its placement. Plain Hono middleware run as a stage wrapping the rest. */
export type ChainEntry = StageMiddleware | MiddlewareHandler<AppEnv> | { middleware: StageMiddleware | MiddlewareHandler<AppEnv>; placement: Placement }

/** `middleware` only where `placement` says, as `app.use('/api/*', m)` would mount it. */
export function placed(middleware: StageMiddleware | MiddlewareHandler<AppEnv>, placement: Placement): ChainEntry {
  return { middleware, placement }
}

export interface PipelineOptions {
  onError: ErrorHandler<AppEnv>
  /** Where observers' failures go (the app logs them). */
  report: FailureReport
  /** Problem formats other than RFC 9457, by placement; the first that applies wins. */
  formats?: { placement: Placement; format: ProblemFormat }[]
}

function stageOf(middleware: StageMiddleware | MiddlewareHandler<AppEnv>): Stage {
  if ('stage' in middleware) return (middleware as StageMiddleware).stage
  // Any other Hono middleware wraps the rest of the chain.
  return { name: middleware.name || 'middleware', around: (c, _scope, next) => middleware(c, async () => next()) as Promise<void> }
}

const isUnder = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`)

function applies(placement: Placement | undefined, path: string): boolean {
  if (!placement) return true
  const { under, only, except } = placement
  if (typeof under === 'string' && !isUnder(path, under)) return false
  if (typeof under === 'object' && !under.some((prefix) => isUnder(path, prefix))) return false
  if (only && !only(path)) return false
  return !(except && except(path))
}

/** `stage` checking its placement against each request's path (for requests no endpoint matched). */
function byPath(stage: Stage, placement: Placement): Stage {
  const { before, around, after } = stage
  return {
    name: stage.name,
    observer: stage.observer,
    before: before && ((c, scope) => (applies(placement, c.req.path) ? before(c, scope) : undefined)),
    around: around && ((c, scope, next) => (applies(placement, c.req.path) ? around(c, scope, next) : next())),
    after: after && ((c, scope) => (applies(placement, c.req.path) ? after(c, scope) : undefined)),
  }
}

/** Joins a mount base and a route path the way Hono's `basePath` does. */
function joinPath(base: string, path: string): string {
  const trimmed = base.endsWith('/') ? base.slice(0, -1) : base
  if (path === '/' || path === '') return trimmed === '' ? '/' : trimmed
  return `${trimmed}${path.startsWith('/') ? path : `/${path}`}`
}

/** Not-found handlers have no `next`. */
const missingNext: Next = () => Promise.resolve()

/**
 * The chain, run as one pipeline around each endpoint instead of as `app.use()` layers in front of all
 * of them. Each endpoint gets the stages that apply to its route template, decided once when it is
 * mounted; a request matches its endpoint alone, so Hono calls it directly, and a chain whose stages
 * and handler answer synchronously answers synchronously. Requests that match no endpoint run every
 * stage whose placement fits their path, around the not-found handler.
 */
export function createPipeline(entries: ChainEntry[], options: PipelineOptions) {
  const chain = entries.map((entry) =>
    'placement' in entry ? { stage: stageOf(entry.middleware), placement: entry.placement } : { stage: stageOf(entry), placement: undefined },
  )
  const formats = options.formats ?? []
  const formatAt = (path: string) => formats.find((entry) => applies(entry.placement, path))?.format
  const runners = new Map<string, ReturnType<typeof runner>>()
  /** The runner for the stages that apply at `path`; one per distinct set. */
  const runnerFor = (path: string) => {
    const picked = chain.filter((link) => applies(link.placement, path))
    const key = picked.map((link) => chain.indexOf(link)).join(',')
    let run = runners.get(key)
    if (run === undefined) runners.set(key, (run = runner(picked.map((link) => link.stage), options)))
    return run
  }

  /** `handler` with the stages for `route` around it; a request runs them once even through two wrapped handlers. */
  function wrap(handler: Handler<AppEnv> | MiddlewareHandler<AppEnv>, route: string): Handler<AppEnv> {
    const call = handler as Call
    const run = runnerFor(route)
    const format = formatAt(route)
    return function pipelineEndpoint(c, next) {
      const scope = scopeOf(c)
      if (scope.entered) return call(c, next) as Response | Promise<Response>
      // The pipeline applies the headers and reports the end: a middleware used inside the endpoint
      // (a route-level `auth()`) must not do it again.
      scope.entered = true
      scope.owned = true
      scope.route = route
      if (format) scope.problemFormat = format
      return run(c, scope, call, next)
    }
  }

  /**
   * Registers every route of `sub` on `app` under `base`, as `app.route(base, sub)` does, with the
   * first handler of each endpoint wrapped; the handlers after it (a validator's endpoint) run inside
   * it through Hono's compose.
   */
  function mount(app: Hono<AppEnv, any, any>, base: string, sub: Hono<AppEnv, any, any>): void {
    const under = app.basePath(base)
    let previous: { method: string; path: string } | undefined
    for (const route of sub.routes) {
      const first = previous === undefined || previous.method !== route.method || previous.path !== route.path
      under.on(route.method, route.path, first ? wrap(route.handler, joinPath(base, route.path)) : route.handler)
      previous = route
    }
  }

  /** The not-found handler with the stages that fit the request's path around it. */
  function notFound(handler: NotFoundHandler<AppEnv>): NotFoundHandler<AppEnv> {
    const call: Call = (c) => handler(c)
    const run = runner(
      chain.map((link) => (link.placement ? byPath(link.stage, link.placement) : link.stage)),
      options,
    )
    return (c) => {
      const scope = scopeOf(c)
      if (scope.entered) return handler(c)
      scope.entered = true
      scope.owned = true
      scope.route = UNMATCHED_ROUTE
      scope.problemFormat = formatAt(c.req.path)
      return run(c, scope, call, missingNext) as Response | Promise<Response>
    }
  }

  return { wrap, mount, notFound }
}

export type Pipeline = ReturnType<typeof createPipeline>
