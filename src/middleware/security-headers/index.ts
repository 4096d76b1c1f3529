import type { Context, MiddlewareHandler } from 'hono'
import type { AppEnv } from '../../env.ts'
import { requestState } from '../../http/request-state.ts'
import { asMiddleware, type Stage } from '../pipeline/index.ts'

export interface SecurityHeadersOptions {
  hsts: { enabled: boolean; max_age: number; include_subdomains: boolean; preload: boolean }
  /** Content-Security-Policy of documents (static files: the widget); empty string sends none. */
  csp: string
  /** Content-Security-Policy of every other response (JSON, problems, streams); empty string sends none. */
  api_csp: string
  referrer_policy: string
  /** Permissions-Policy; empty string sends none. */
  permissions_policy: string
}

/**
 * Security headers after the OWASP HTTP Headers and REST Security Cheat Sheets. `X-XSS-Protection`
 * is deliberately not sent (OWASP: the XSS auditor is gone and the header can create leaks; CSP
 * replaces it).
 *
 * Two sets. API responses (everything the endpoints answer) get the REST set: `Cache-Control:
 * no-store` (private data stays out of caches; a handler's own `cache-control` wins) and a CSP that
 * allows nothing (`api_csp`), since a JSON body is never meant to render. Static files get the
 * document set instead (`withDocumentHeaders`): the page's CSP (`csp`), `Cross-Origin-Opener-Policy`
 * (which only top-level documents use) and no `no-store`. Both sets are computed once; each request
 * copies one into the header bag.
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
      // a constant-shape object costs half of adding its properties to the bag one by one.
      state.headers = Object.assign({ ...headers }, state.headers)
    },
  }
}

/** The headers every response shares, whichever set it gets. */
function commonHeaders(options: SecurityHeadersOptions): Record<string, string> {
  const headers: Record<string, string> = {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': options.referrer_policy,
    'cross-origin-resource-policy': 'same-origin',
  }
  if (options.permissions_policy) headers['permissions-policy'] = options.permissions_policy
  if (options.hsts.enabled) {
    let value = `max-age=${Math.floor(options.hsts.max_age / 1000)}`
    if (options.hsts.include_subdomains) value += '; includeSubDomains'
    if (options.hsts.preload) value += '; preload'
    headers['strict-transport-security'] = value
  }
  return headers
}

/** The set for API responses. */
export function buildSecurityHeaders(options: SecurityHeadersOptions): Record<string, string> {
  const headers = commonHeaders(options)
  if (options.api_csp) headers['content-security-policy'] = options.api_csp
  headers['cache-control'] = 'no-store'
  return headers
}

/** The set for documents and their assets. */
export function buildDocumentHeaders(options: SecurityHeadersOptions): Record<string, string> {
  const headers = commonHeaders(options)
  if (options.csp) headers['content-security-policy'] = options.csp
  headers['cross-origin-opener-policy'] = 'same-origin'
  return headers
}

/**
 * `serveStatic` with the document set on the files it serves; a miss goes on to `next` with the API
 * set. (The bag is copied onto the response after the handler, so swapping it here is enough.)
 */
export function withDocumentHeaders(options: SecurityHeadersOptions, serveStatic: MiddlewareHandler<AppEnv>): MiddlewareHandler<AppEnv> {
  const api = buildSecurityHeaders(options)
  const document = buildDocumentHeaders(options)
  const dropped = Object.keys(api).filter((name) => !(name in document))
  const asDocument = (c: Context<AppEnv>) => {
    const bag = requestState(c).headers
    for (const name of dropped) if (bag[name] === api[name]) delete bag[name]
    Object.assign(bag, document)
  }
  return async (c, next) => {
    let missing = false
    const res = await serveStatic(c, () => {
      missing = true
      return next()
    })
    if (!missing) asDocument(c)
    return res
  }
}
