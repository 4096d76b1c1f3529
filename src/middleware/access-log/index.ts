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

type AccessFields = Record<string, string | number | boolean | null>

/** Level by status: server faults are errors, client faults warnings, everything else info. */
function levelFor(status: number): 'error' | 'warn' | 'info' {
  return status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info'
}

/**
 * One JSON line per request through the logger, written when the response body has been delivered
 * (for streams: at the end of the stream, so `duration_ms` and `bytes` cover the whole stream).
 * Fields: method, route (template, `unmatched` when none), request_id, trace_id (when the request has
 * a trace), path (never the query string, which may carry `token`), status, bytes, duration_ms, ip
 * and user_agent (each when known), and `aborted: true` when the client left mid-body. No request
 * header other than User-Agent (and `X-Forwarded-For` from trusted proxies) is read, so credentials
 * cannot leak. Level: error for 5xx, warn for 4xx, info otherwise.
 *
 * Also sets `c.var.log`, which gives the handler a child logger carrying `method`, `route`,
 * `request_id` and `trace_id`, made on the first call: most requests log nothing but their line,
 * and a pino child per request was a sixth of the access log's cost.
 * What the line needs from the runtime (the peer address) is read when the request arrives, never
 * after the response: on Deno the connection info is gone once an upgrade has been answered.
 */
export function accessLog(options: AccessLogOptions): StageMiddleware {
  const { logger } = options
  const message = options.message ?? 'request completed'
  const peerAddress = options.peerAddress ?? (() => undefined)
  const trusted = parseRanges(options.trustedProxies ?? [])

  // One child per route template and method, carrying both already serialised: a request's line and
  // its own child descend from it. Methods a client invents all share one route (`unmatched`); past
  // 1,024 pairs nothing more is kept.
  const byRoute = new Map<string, Map<string, Logger>>()
  let kept = 0
  const routeLogger = (method: string, route: string): Logger => {
    let byMethod = byRoute.get(route)
    if (byMethod === undefined) byRoute.set(route, (byMethod = new Map()))
    let child = byMethod.get(method)
    if (child === undefined) {
      child = logger.child({ method, route })
      if (kept < 1024) {
        byMethod.set(method, child)
        kept++
      }
    }
    return child
  }

  const write = (c: Context<AppEnv>, route: string, startedAt: number, ip: string | null, userAgent: string | null, end: ResponseEnd) => {
    const level = levelFor(end.status)
    if (!logger.isLevelEnabled(level)) return
    const fields: AccessFields = ids(c)
    fields.path = c.req.path
    fields.status = end.status
    fields.bytes = end.bytes
    fields.duration_ms = Math.round((end.endedAt - startedAt) * 1000) / 1000
    // Absent rather than null: pino writes a null through JSON.stringify, strings and numbers itself.
    if (ip !== null) fields.ip = ip
    if (userAgent !== null) fields.user_agent = userAgent
    if (end.aborted) fields.aborted = true
    routeLogger(c.req.method, route)[level](fields, message)
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
      // Called by a handler, after every `before`: the request and trace ids are known by then.
      let child: Logger | undefined
      c.set('log', () => (child ??= routeLogger(c.req.method, scope.template(c)).child(ids(c))))
    },
  })
}
