import type { MiddlewareHandler } from 'hono'
import type { Logger } from 'pino'
import type { AppEnv } from '../../env.ts'

export interface AccessLogOptions {
  logger: Logger
}

// STUB (to be replaced): one pino line per request.
export function accessLog(options: AccessLogOptions): MiddlewareHandler<AppEnv> {
  return async function accessLogMiddleware(c, next) {
    c.set('logger', options.logger)
    await next()
  }
}
