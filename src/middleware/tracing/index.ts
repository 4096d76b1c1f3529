import type { Tracer } from '@opentelemetry/api'
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../../env.ts'

export interface TracingOptions {
  tracer: Tracer
}

// STUB (to be replaced): one SERVER span per request.
export function tracing(_options: TracingOptions): MiddlewareHandler<AppEnv> {
  return async function tracingMiddleware(_c, next) {
    await next()
  }
}
