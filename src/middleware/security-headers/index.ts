import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../../env.ts'
import { requestState } from '../../http/request-state.ts'
import { asMiddleware, type Stage } from '../pipeline/index.ts'

export interface SecurityHeadersOptions {
  hsts: { enabled: boolean; max_age: number; include_subdomains: boolean; preload: boolean }
  /** Content-Security-Policy; empty string sends none. */
  csp: string
  referrer_policy: string
  /** Permissions-Policy; empty string sends none. */
  permissions_policy: string
}

/**
 * Security headers after the OWASP HTTP Headers Cheat Sheet. `X-XSS-Protection` is deliberately not
 * sent (OWASP: the XSS auditor is gone and the header can create leaks; CSP replaces it).
 * The set is computed once; each request copies it into the header bag.
 */
export function securityHeaders(options: SecurityHeadersOptions): MiddlewareHandler<AppEnv> {
  return asMiddleware(securityHeadersStage(options))
}

export function securityHeadersStage(options: SecurityHeadersOptions): Stage {
  const headers = buildSecurityHeaders(options)
  return {
    name: 'securityHeaders',
    before: (c) => {
      const state = requestState(c)
      // The fixed set copied whole, then what earlier stages gathered (the request id) on top: cloning
      // a constant-shape object costs half of adding its eight properties to the bag one by one.
      state.headers = Object.assign({ ...headers }, state.headers)
    },
  }
}

export function buildSecurityHeaders(options: SecurityHeadersOptions): Record<string, string> {
  const headers: Record<string, string> = {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': options.referrer_policy,
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
  }
  if (options.permissions_policy) headers['permissions-policy'] = options.permissions_policy
  if (options.csp) headers['content-security-policy'] = options.csp
  if (options.hsts.enabled) {
    let value = `max-age=${Math.floor(options.hsts.max_age / 1000)}`
    if (options.hsts.include_subdomains) value += '; includeSubDomains'
    if (options.hsts.preload) value += '; preload'
    headers['strict-transport-security'] = value
  }
  return headers
}
