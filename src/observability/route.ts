import type { Context } from 'hono'
import { matchedRoutes } from 'hono/route'
import { requestState } from '../http/request-state.ts'

/** The one label every request that matched no endpoint gets (404, 405, and anything refused before it). */
export const UNMATCHED_ROUTE = 'unmatched'

/**
 * The route template of the endpoint a request matched (`/api/v1/conversations/:id`), for logs,
 * metric labels and span names: bounded, never the raw path.
 *
 * `c.req.routePath` names whichever handler ran last, so a 401 from `app.use('/api/*', auth)` would
 * be labelled `/api/*` and a 404 from `notFound` the last middleware's `/*`. Instead this takes the
 * first method-specific route Hono matched (the endpoint, whoever answered), falls back to the
 * answering middleware's pattern for successful responses served by middleware (static files,
 * preflights), and gives everything else the fixed `unmatched` label. Ask only once the response
 * exists: the answer is kept for the request.
 */
export function routeTemplate(c: Context, status: number): string {
  // The access log, metrics and tracing each ask once the response exists; work it out once.
  const state = requestState(c)
  return (state.route ??= findTemplate(c, status))
}

function findTemplate(c: Context, status: number): string {
  const routes = matchedRoutes(c)
  for (let i = 0; i < routes.length; i++) {
    if (routes[i].method !== 'ALL') return routes[i].path
  }
  if (status < 400) return routes[c.req.routeIndex]?.path ?? UNMATCHED_ROUTE
  return UNMATCHED_ROUTE
}
