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
    /** The request's logger (method, route, request_id, trace_id bound), made on the first call; set by the access log. */
    log: () => Logger
    /** Set by authentication on every non-public route. */
    user: Principal
    /** Trace id of the request's span (or of an inbound `traceparent`), set by the tracing middleware. */
    traceId: string
  }
}
