import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../../env.ts'
import { applyResponseHeaders } from '../../http/response.ts'
import { asMiddleware, type Stage } from '../pipeline/index.ts'

/**
 * Outermost middleware: gives the request a plain-object header bag (`c.var.responseHeaders`) and,
 * once the response exists, copies the bag onto responses that were not built from it.
 * Why a bag: see `src/http/response.ts`.
 */
export function responseHeaders(): MiddlewareHandler<AppEnv> {
  return asMiddleware(responseHeadersStage())
}

export function responseHeadersStage(): Stage {
  return {
    name: 'responseHeaders',
    before: (c) => {
      c.set('responseHeaders', {})
    },
    after: (c) => applyResponseHeaders(c, c.get('responseHeaders')),
  }
}
