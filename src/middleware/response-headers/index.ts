import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../../env.ts'
import { requestState } from '../../http/request-state.ts'
import { applyResponseHeaders } from '../../http/response.ts'
import { asMiddleware, type Stage } from '../pipeline/index.ts'

/**
 * Outermost middleware: copies the request's plain-object header bag (`requestState(c).headers`)
 * onto responses that were not built from it, once the response exists.
 * Why a bag: see `src/http/response.ts`.
 */
export function responseHeaders(): MiddlewareHandler<AppEnv> {
  return asMiddleware(responseHeadersStage())
}

export function responseHeadersStage(): Stage {
  return {
    name: 'responseHeaders',
    after: (c) => applyResponseHeaders(c, requestState(c).headers),
  }
}
