import { defineMiddleware, empty, type StageMiddleware } from '../../pipeline/index.ts'

export interface CorsOptions {
  /** Origins allowed to read responses, matched exactly (`https://app.example.com`); `*` for any. */
  allowed_origins: string[]
  allowed_methods: string[]
  allowed_headers: string[]
  /** Response headers a browser script may read. */
  exposed_headers: string[]
  /** Send `Access-Control-Allow-Credentials: true`; cannot be combined with `*`. */
  allow_credentials: boolean
  /** How long a browser may cache a preflight, in milliseconds (sent in seconds). */
  max_age: number
}

/**
 * CORS with an exact-match allowlist. Our own rather than Hono's `cors()`, which writes to `c.res`
 * (a `Headers` object on every response, @hono/node-server's slow path) and echoes any origin a
 * function approves; this one gathers its headers like every other stage.
 *
 * - An allowed origin is echoed in `Access-Control-Allow-Origin` (with `Vary: Origin`); with `*` in the
 *   list and credentials off every origin gets a literal `*`. An arbitrary origin is never echoed, and
 *   `*` together with `allow_credentials` is refused at construction.
 * - Preflights (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) are answered here with
 *   204, before rate limiting and authentication, so they need no key. A preflight from an origin that
 *   is not allowed gets the same 204 without any CORS header: the browser then refuses the request,
 *   and nothing tells the caller which origins are allowed.
 * - Requests without `Origin` pass untouched except for `Vary: Origin` when the answer depends on it.
 */
export function cors(options: CorsOptions): StageMiddleware {
  const anyOrigin = options.allowed_origins.includes('*')
  if (anyOrigin && options.allow_credentials) {
    throw new TypeError('cors: allowed_origins "*" cannot be combined with allow_credentials (list the origins instead)')
  }
  // Browsers serialise Origin with a lower-case scheme and host; the comparison itself stays exact.
  const allowed = new Set(options.allowed_origins.map((origin) => origin.toLowerCase()))
  // With an allowlist the headers differ per Origin, so shared caches must key on it.
  const dependsOnOrigin = !anyOrigin && allowed.size > 0
  const credentials = options.allow_credentials
  const exposed = options.exposed_headers.join(', ')
  const preflightHeaders: Record<string, string> = {
    'access-control-allow-methods': options.allowed_methods.join(', '),
    'access-control-allow-headers': options.allowed_headers.join(', '),
    'access-control-max-age': String(Math.floor(options.max_age / 1000)),
  }

  /** The `Access-Control-Allow-Origin` value for this origin, or undefined when it is not allowed. */
  const allowOrigin = (origin: string | null): string | undefined => {
    if (origin === null) return undefined
    if (anyOrigin) return '*'
    return allowed.has(origin) ? origin : undefined
  }

  return defineMiddleware({
    name: 'cors',
    before: (c, scope) => {
      const headers = c.req.raw.headers
      const origin = headers.get('origin')
      if (dependsOnOrigin) {
        const vary = scope.headers.vary
        scope.header('vary', vary === undefined ? 'Origin' : `${vary}, Origin`)
      }
      const value = allowOrigin(origin)

      if (c.req.method === 'OPTIONS' && origin !== null && headers.has('access-control-request-method')) {
        if (value === undefined) return empty(c, 204)
        scope.header('access-control-allow-origin', value)
        if (credentials) scope.header('access-control-allow-credentials', 'true')
        return empty(c, 204, preflightHeaders)
      }

      if (value !== undefined) {
        scope.header('access-control-allow-origin', value)
        if (credentials) scope.header('access-control-allow-credentials', 'true')
        if (exposed) scope.header('access-control-expose-headers', exposed)
      }
    },
  })
}
