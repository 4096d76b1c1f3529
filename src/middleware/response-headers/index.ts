import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../../env.ts'
import { applyResponseHeaders } from '../../http/response.ts'

/**
 * Outermost middleware: gives the request a plain-object header bag (`c.var.responseHeaders`) and,
 * once the response exists, copies the bag onto responses that were not built from it.
 * Why a bag: see `src/http/response.ts`.
 */
export function responseHeaders(): MiddlewareHandler<AppEnv> {
  return async function responseHeadersMiddleware(c, next) {
    const bag: Record<string, string> = {}
    c.set('responseHeaders', bag)
    await next()
    applyResponseHeaders(c.res, bag)
  }
}
