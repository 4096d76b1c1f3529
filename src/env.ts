import type { Logger } from 'pino'

/** The authenticated caller. `id` scopes every stored record. */
export interface Principal {
  id: string
}

/** The one environment type every router, middleware and handler shares. */
export interface AppEnv {
  Bindings: Record<string, unknown>
  Variables: {
    requestId: string
    logger: Logger
    /** Set by authentication on every non-public route. */
    user: Principal
    /** Response headers gathered by middleware as a plain object; see `src/http/response.ts`. */
    responseHeaders: Record<string, string>
    /** Trace id of the request's span (or of an inbound `traceparent`), set by the tracing middleware. */
    traceId: string
  }
}
