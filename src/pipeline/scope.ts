import type { Context } from 'hono'
import { matchedRoutes } from 'hono/route'
import type { EndListener, StreamProgress } from './end.ts'
import type { ProblemFormat } from '../kernel/problem.ts'

/** The one route label every request that matched no endpoint gets (404, 405, static files, preflights). */
export const UNMATCHED_ROUTE = 'unmatched'

/**
 * What the pipeline knows of one request, handed to every stage: the response headers the stages
 * gather, when the request entered, the route template it matched, and the listeners for the end of
 * its response body. The pipeline puts the gathered headers on whatever response the handler makes
 * (`c.json()`, `new Response()`, a stream) as its last step; the builders in `respond.ts` build a
 * response with them in one go, the cheap way for the runtime.
 */
export class RequestScope {
  /** Response headers by lower-case name. */
  headers: Record<string, string> = {}
  /** `performance.now()` when the request entered the pipeline. */
  readonly startedAt = performance.now()
  /** The matched endpoint's template, set by the pipeline when it mounts the endpoint; read it through `template()`. */
  route: string | undefined = undefined
  /** `performance.now()` once the response existed (`responded()`), read once for every observer. */
  respondedAt = 0
  /** The request body is being read (the validator awaits it): a deadline now is the client's, a 408. */
  receiving = false
  /** The stages already ran for this request (a handler may fall through to a second wrapped one). */
  entered = false
  /** The outermost middleware-form stage, which applies the headers and reports the end. */
  owned = false
  /** The response a builder made with the gathered headers, and its string body. */
  sent: Response | undefined = undefined
  sentBody: string | null = null
  /** A streamed response whose writer reports its own progress. */
  streamed: Response | undefined = undefined
  progress: StreamProgress | undefined = undefined
  ends: EndListener[] | undefined = undefined
  /** How this request's problems are written; RFC 9457 when unset. */
  problemFormat: ProblemFormat | undefined = undefined

  /** `performance.now()` when the response came to exist: read by the first observer to ask, shared by all. */
  responded(): number {
    return (this.respondedAt ||= performance.now())
  }

  /**
   * The route template of the endpoint the request matched (`/api/v1/conversations/:id`), for logs,
   * metric labels and span names: bounded, never the raw path; `unmatched` when no endpoint matched.
   * Outside the pipeline (a middleware on its own with `app.use()`) it is the first method-specific
   * route Hono matched, whoever answered.
   */
  template(c: Context): string {
    return (this.route ??= matchedTemplate(c))
  }

  /** Sets a response header (lower-case `name`); a header the handler sets itself wins. */
  header(name: string, value: string): void {
    this.headers[name] = value
  }

  /** Puts `defaults` under the headers gathered so far: what is already there wins. */
  defaults(defaults: Readonly<Record<string, string>>): void {
    // Cloning a constant-shape object costs half of adding its properties one by one.
    this.headers = Object.assign({ ...defaults }, this.headers)
  }

  /** Calls `listener` once the response body has been delivered or abandoned. */
  onEnd(listener: EndListener): void {
    if (this.ends === undefined) this.ends = [listener]
    else this.ends.push(listener)
  }

  /** The writer of `res`'s streamed body reports its bytes and end through `progress`. */
  reportStream(res: Response, progress: StreamProgress): void {
    this.streamed = res
    this.progress = progress
  }
}

const SCOPE = Symbol('requestScope')

/**
 * The request's scope, made on first use. Kept on the context under a symbol rather than in `c.var`,
 * whose Map costs a set and several gets per request for what the pipeline reads on every one.
 */
export function scopeOf(c: Context): RequestScope {
  const holder = c as Context & { [SCOPE]?: RequestScope }
  return (holder[SCOPE] ??= new RequestScope())
}

function matchedTemplate(c: Context): string {
  const routes = matchedRoutes(c)
  for (let i = 0; i < routes.length; i++) if (routes[i].method !== 'ALL') return routes[i].path
  return UNMATCHED_ROUTE
}
