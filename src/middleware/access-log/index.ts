import type { Context } from 'hono'
import type { Logger } from 'pino'
import type { AppEnv } from '../../env.ts'
import { defineMiddleware, type ResponseEnd, type StageMiddleware } from '../../pipeline/index.ts'
import { clientAddress, parseRanges } from '../rate-limit/client-address.ts'

export interface AccessLogOptions {
  logger: Logger
  /** The socket peer address (the runtime's `getConnInfo`). Default: none, `ip` is logged as null. */
  peerAddress?: (c: Context<AppEnv>) => string | undefined
  /** CIDRs of proxies whose `X-Forwarded-For` is believed, as for rate limiting. Default `[]`. */
  trustedProxies?: string[]
  /** The line's `msg`. Default `request completed`. */
  message?: string
}

/** The request's ids for log lines; `trace_id` only when there is a trace (a null costs pino a JSON.stringify). */
function ids(c: Context<AppEnv>): { request_id: string | null; trace_id?: string } {
  const traceId = c.get('traceId')
  return traceId === undefined ? { request_id: c.get('requestId') ?? null } : { request_id: c.get('requestId') ?? null, trace_id: traceId }
}

/** Level by status: server faults are errors, client faults warnings, everything else info. */
function levelFor(status: number): 'error' | 'warn' | 'info' {
  return status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info'
}

/**
 * One JSON line per request through the logger, written when the response body has been delivered
 * (for streams: at the end of the stream, so `duration_ms` and `bytes` cover the whole stream).
 * Fields: method, route (template, `unmatched` when none), path (never the query string, which may
 * carry `token`), status, bytes, duration_ms, ip, user_agent, request_id, trace_id (when the request
 * has a trace), and `aborted: true` when the client left mid-body. No request header other than User-Agent (and
 * `X-Forwarded-For` from trusted proxies) is read, so credentials cannot leak.
 * Level: error for 5xx, warn for 4xx, info otherwise.
 *
 * Also sets `c.var.logger`, a child logger carrying `method`, `route`, `request_id` and `trace_id`,
 * for the handler; the request's line is written through it.
 * What the line needs from the runtime (the peer address) is read when the request arrives, never
 * after the response: on Deno the connection info is gone once an upgrade has been answered.
 */
export function accessLog(options: AccessLogOptions): StageMiddleware {
  const { logger } = options
  const message = options.message ?? 'request completed'
  const peerAddress = options.peerAddress ?? (() => undefined)
  const trusted = parseRanges(options.trustedProxies ?? [])

  // One child per method and route template, carrying both already serialised: the request's own
  // child descends from it, and its line has six fields left to write. Methods a client invents all
  // share one route (`unmatched`); past 1,024 pairs nothing more is kept.
  const byRoute = new Map<string, Logger>()
  const routeLogger = (method: string, route: string): Logger => {
    const key = `${method} ${route}`
    let child = byRoute.get(key)
    if (child === undefined) {
      child = logger.child({ method, route })
      if (byRoute.size < 1024) byRoute.set(key, child)
    }
    return child
  }

  const write = (c: Context<AppEnv>, route: string, startedAt: number, ip: string | null, userAgent: string | null, end: ResponseEnd) => {
    const level = levelFor(end.status)
    if (!logger.isLevelEnabled(level)) return
    const fields: Record<string, unknown> = {
      path: c.req.path,
      status: end.status,
      bytes: end.bytes,
      duration_ms: Math.round((end.endedAt - startedAt) * 1000) / 1000,
      ip,
      user_agent: userAgent,
    }
    if (end.aborted) fields.aborted = true
    // Through the request's child logger, whose bindings carry method, route and the ids already
    // serialised; a request refused before any handler (401, 429) has none, and gets the ids as fields.
    const child = c.get('logger')
    if (child !== undefined) return child[level](fields, message)
    routeLogger(c.req.method, route)[level](Object.assign(fields, ids(c)), message)
  }

  return defineMiddleware({
    name: 'accessLog',
    observer: true,
    before: (c, scope) => {
      const peer = peerAddress(c)
      const ip = trusted.length > 0 ? clientAddress(peer, c.req.raw.headers.get('x-forwarded-for'), trusted) : (peer ?? null)
      const userAgent = c.req.raw.headers.get('user-agent')
      scope.onEnd(function accessLogLine(end) {
        write(c, scope.template(c), scope.startedAt, ip, userAgent, end)
      })
    },
    // After every `before`, so the request and trace ids are known, and only for requests a handler sees.
    around: (c, scope, next) => {
      c.set('logger', routeLogger(c.req.method, scope.template(c)).child(ids(c)))
      return next()
    },
  })
}
