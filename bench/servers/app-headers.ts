// The app's response header set for a JSON answer (security headers, request id, rate-limit headers),
// for the bare Hono servers' BENCH_HEADERS variant: what sending those headers costs without the chain.
import { loadConfig } from '../../src/config/index.ts'
import { buildSecurityHeaders } from '../../src/middleware/security-headers/index.ts'

/** A function giving one response's headers (without content-type), as the app would send them. */
export async function appHeaders(): Promise<() => Record<string, string>> {
  // Over plain HTTP, as the bench talks: no HSTS (RFC 6797 §7.2).
  const security = buildSecurityHeaders((await loadConfig({ env: {} })).server.security, false)
  return () => ({
    'x-request-id': crypto.randomUUID(),
    ...security,
    'x-ratelimit-limit': '10',
    'x-ratelimit-remaining': '9',
    'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000)),
  })
}
