import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../../env.ts'

export interface BodyLimitOptions {
  maxBytes: number
}

// STUB (to be replaced).
export function bodyLimit(_options: BodyLimitOptions): MiddlewareHandler<AppEnv> {
  return async function bodyLimitMiddleware(_c, next) {
    await next()
  }
}
