import type { Context, MiddlewareHandler } from 'hono'
import type { AppEnv } from '../../env.ts'
import { problems } from '../../kernel/problem.ts'
import { defineMiddleware, scopeOf, type StageMiddleware } from '../../pipeline/index.ts'
import { isTrustedPeer, parseRanges } from '../rate-limit/client-address.ts'

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

export interface SecurityHeadersRuntime {
  /** The socket peer address, to believe `X-Forwarded-Proto` from trusted proxies only. Default none. */
  peerAddress?: (c: Context<AppEnv>) => string | undefined
  /** CIDRs of proxies whose `X-Forwarded-Proto` is believed. Default `[]`. */
  trustedProxies?: string[]
}

/**
 * Whether the client reached us over TLS: the request URL is `https:` (TLS terminated here, or on
 * Workers at Cloudflare), or a trusted proxy says `X-Forwarded-Proto: https`.
 */
function overTls(c: Context<AppEnv>, runtime: Required<Pick<SecurityHeadersRuntime, 'peerAddress'>>, trusted: ReturnType<typeof parseRanges>): boolean {
  if (c.req.url.startsWith('https:')) return true
  if (trusted.length === 0) return false
  const proto = c.req.raw.headers.get('x-forwarded-proto')
  // The last hop's word counts: a proxy appends, a client can only prepend.
  return proto !== null && proto.split(',').at(-1)!.trim().toLowerCase() === 'https' && isTrustedPeer(runtime.peerAddress(c), trusted)
}

/**
 * Security headers after the OWASP HTTP Headers and REST Security Cheat Sheets. `X-XSS-Protection`
 * is deliberately not sent (OWASP: the XSS auditor is gone and the header can create leaks; CSP
 * replaces it). `Strict-Transport-Security` goes only on responses to requests that came over TLS:
 * RFC 6797 §7.2 forbids it on plain HTTP.
 *
 * Two sets. API responses (everything the endpoints answer) get the REST set: `Cache-Control:
 * no-store` (private data stays out of caches; a handler's own `cache-control` wins) and a CSP that
 * allows nothing (`api_csp`), since a JSON body is never meant to render. Static files get the document
 * set instead (`withDocumentHeaders`): the page's CSP (`csp`), `Cross-Origin-Opener-Policy` (which only
 * top-level documents use) and no `no-store`. The sets are computed once. A request with two Host
 * headers is refused here with a 400 (after the headers are set, so the refusal carries them).
 */
export function securityHeaders(options: SecurityHeadersOptions, runtime: SecurityHeadersRuntime = {}): StageMiddleware {
  const plain = buildSecurityHeaders(options, false)
  const secure = buildSecurityHeaders(options, true)
  const hsts = options.hsts.enabled
  const peer = { peerAddress: runtime.peerAddress ?? (() => undefined) }
  const trusted = parseRanges(runtime.trustedProxies ?? [])
  return defineMiddleware({
    name: 'securityHeaders',
    before: (c, scope) => {
      scope.defaults(hsts && overTls(c, peer, trusted) ? secure : plain)
      // RFC 9112 §3.2: more than one Host (runtimes join them with a comma) is a 400. Proxies and
      // the app could each pick a different one: a cache-poisoning and routing-confusion vector.
      if (c.req.raw.headers.get('host')?.includes(',')) throw problems.badRequest('The request has more than one Host header')
    },
  })
}

/** The headers every response shares, whichever set it gets. */
function commonHeaders(options: SecurityHeadersOptions, tls: boolean): Record<string, string> {
  const headers: Record<string, string> = {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': options.referrer_policy,
    'cross-origin-resource-policy': 'same-origin',
  }
  if (options.permissions_policy) headers['permissions-policy'] = options.permissions_policy
  if (tls && options.hsts.enabled) {
    let value = `max-age=${Math.floor(options.hsts.max_age / 1000)}`
    if (options.hsts.include_subdomains) value += '; includeSubDomains'
    if (options.hsts.preload) value += '; preload'
    headers['strict-transport-security'] = value
  }
  return headers
}

/** The set for API responses (`tls`: the request came over TLS, so HSTS is included). */
export function buildSecurityHeaders(options: SecurityHeadersOptions, tls = true): Record<string, string> {
  const headers = commonHeaders(options, tls)
  if (options.api_csp) headers['content-security-policy'] = options.api_csp
  headers['cache-control'] = 'no-store'
  return headers
}

/** The set for documents and their assets. */
export function buildDocumentHeaders(options: SecurityHeadersOptions, tls = true): Record<string, string> {
  const headers = commonHeaders(options, tls)
  if (options.csp) headers['content-security-policy'] = options.csp
  headers['cross-origin-opener-policy'] = 'same-origin'
  return headers
}

/** `serveStatic` with the document set on the files it serves; a miss goes on to `next` with the API set. */
export function withDocumentHeaders(options: SecurityHeadersOptions, serveStatic: MiddlewareHandler<AppEnv>): MiddlewareHandler<AppEnv> {
  const api = buildSecurityHeaders(options)
  const document = { secure: buildDocumentHeaders(options, true), plain: buildDocumentHeaders(options, false) }
  const dropped = Object.keys(api).filter((name) => !(name in document.secure))
  return async function documentHeaders(c, next) {
    let missing = false
    const res = await serveStatic(c, () => {
      missing = true
      return next()
    })
    if (!missing) {
      // The gathered headers go onto the file's response afterwards, so swapping them here is enough.
      const bag = scopeOf(c).headers
      const tls = 'strict-transport-security' in bag
      for (const name of dropped) if (bag[name] === api[name]) delete bag[name]
      Object.assign(bag, tls ? document.secure : document.plain)
    }
    return res
  }
}
