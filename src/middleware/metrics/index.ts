import type { MiddlewareHandler } from 'hono'
import type { Registry } from 'prom-client'
import type { AppEnv } from '../../env.ts'

export interface MetricsOptions {
  registry: Registry
}

// STUB (to be replaced): @hono/prometheus on the injected registry.
export function metrics(_options: MetricsOptions): { middleware: MiddlewareHandler<AppEnv>; handler: (c: any) => Promise<Response> } {
  return {
    middleware: async function metricsMiddleware(_c, next) {
      await next()
    },
    handler: async (c) => c.text(await _options.registry.metrics()),
  }
}
