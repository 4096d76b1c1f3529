import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../../env.ts'

export interface TimeoutOptions {
  ms: number
  /** Requests this returns true for (streams) are not bounded here. */
  exempt?: (path: string) => boolean
}

// STUB (to be replaced).
export function timeout(_options: TimeoutOptions): MiddlewareHandler<AppEnv> {
  return async function timeoutMiddleware(_c, next) {
    await next()
  }
}
