import type { Context, MiddlewareHandler } from 'hono'
import pino, { type Logger } from 'pino'
import type { AppEnv } from '../../env.ts'
import { markStart, onResponseEnd, respondedAt, sentBytes, startedAt, type ResponseEnd } from '../../observability/response-end.ts'
import { routeTemplate } from '../../observability/route.ts'
import { asMiddleware, type Stage } from '../pipeline/index.ts'
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

const { chindingsSym, endSym, streamSym, timeSym, needsMetadataGsym, mixinSym, formattersSym, hooksSym, messageKeySym } =
  pino.symbols

const ERROR = { name: 'error', value: 50 } as const
const WARN = { name: 'warn', value: 40 } as const
const INFO = { name: 'info', value: 30 } as const

/** Level by status: server faults are errors, client faults warnings, everything else info. */
function levelFor(status: number): typeof ERROR | typeof WARN | typeof INFO {
  return status >= 500 ? ERROR : status >= 400 ? WARN : INFO
}

/** Milliseconds rounded to microseconds, as JSON, without formatting a double (`12.3` → `12.3`, `0.0005` → `0.001`). */
export function millis(ms: number): string {
  const micros = Math.round(ms * 1000)
  if (!(micros >= 0 && micros < Number.MAX_SAFE_INTEGER)) return String(Math.round(ms * 1000) / 1000)
  const whole = Math.floor(micros / 1000)
  let fraction = micros - whole * 1000
  if (fraction === 0) return String(whole)
  // Without trailing zeros, as `Math.round(x * 1000) / 1000` prints.
  let width = 3
  while (fraction % 10 === 0) {
    fraction /= 10
    width--
  }
  const digits = String(fraction)
  // `padStart` is slow on JavaScriptCore; at most two zeros are missing.
  return `${whole}.${digits.length === width ? digits : digits.length + 1 === width ? `0${digits}` : `00${digits}`}`
}

/** Printable ASCII without `"` and `\`: such a string is its own JSON body. */
const JSON_SAFE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/**
 * A string or null as JSON. Request ids, addresses and most paths and user agents need no escaping,
 * and quoting them directly skips `JSON.stringify` (cheap on V8, about 0.2 µs a call on Bun).
 */
export function jsonString(value: string | null | undefined): string {
  if (value == null) return 'null'
  return JSON_SAFE.test(value) ? `"${value}"` : JSON.stringify(value)
}

/**
 * Whether a line built by hand matches what `logger.info(obj, msg)` would write. Pino spends ~6 µs
 * per call; this middleware runs on every request, so it writes pino's format itself when the logger
 * uses no feature that would change the line (formatters, mixins, hooks, multistream metadata).
 */
function canWriteDirectly(logger: Logger): boolean {
  const internals = logger as unknown as Record<symbol, any>
  const stream = internals[streamSym]
  const formatters = internals[formattersSym]
  const levelShape = JSON.stringify(formatters?.level?.('info', 30))
  return (
    typeof stream?.write === 'function' &&
    stream[needsMetadataGsym] !== true &&
    internals[mixinSym] == null &&
    internals[hooksSym]?.logMethod == null &&
    internals[hooksSym]?.streamWrite == null &&
    internals[messageKeySym] === 'msg' &&
    levelShape === '{"level":30}' &&
    formatters?.log == null &&
    typeof internals[timeSym] === 'function' &&
    typeof internals[chindingsSym] === 'string'
  )
}

/**
 * Per-request logger carrying `request_id` and `trace_id`, made only when a handler first uses it
 * (a pino child costs about a microsecond, and most requests never log). One trap object serves every
 * request; each request allocates only its small target.
 */
interface LazyTarget {
  base: Logger
  c: Context<AppEnv>
  child: Logger | undefined
}
const resolveChild = (target: LazyTarget): Logger =>
  (target.child ??= target.base.child({ request_id: target.c.get('requestId'), trace_id: target.c.get('traceId') ?? null }))
const lazyChildTraps: ProxyHandler<LazyTarget> = {
  get: (target, key) => Reflect.get(resolveChild(target), key),
  set: (target, key, value) => Reflect.set(resolveChild(target), key, value),
  has: (target, key) => Reflect.has(resolveChild(target), key),
}
function lazyChild(base: Logger, c: Context<AppEnv>): Logger {
  return new Proxy<LazyTarget>({ base, c, child: undefined }, lazyChildTraps) as unknown as Logger
}

/**
 * One JSON line per request, written when the response body has been delivered (for streams: at the
 * end of the stream, so `duration_ms` and `bytes` cover the whole stream). Fields: method, route
 * (template, `unmatched` when none), path (never the query string, which may carry `token`), status,
 * bytes, duration_ms, ip, user_agent, request_id, trace_id, and `aborted: true` when the client left
 * mid-body. No request header other than User-Agent is read, so credentials cannot leak.
 * Level: error for 5xx, warn for 4xx, info otherwise.
 * Also sets `c.var.logger`, a per-request child logger made lazily.
 */
export function accessLog(options: AccessLogOptions): MiddlewareHandler<AppEnv> {
  return asMiddleware(accessLogStage(options))
}

export function accessLogStage(options: AccessLogOptions): Stage {
  const { logger } = options
  const message = options.message ?? 'request completed'
  const peerAddress = options.peerAddress ?? (() => undefined)
  const trusted = parseRanges(options.trustedProxies ?? [])
  const direct = canWriteDirectly(logger)
  const msgField = `,"msg":${JSON.stringify(message)}`
  // Methods and route templates are few: quote each once. (Methods are tokens, so the set is bounded
  // by what clients send; past 256 entries nothing more is kept.)
  const quotes = new Map<string, string>()
  const quoted = (value: string): string => {
    let json = quotes.get(value)
    if (json === undefined) {
      json = JSON.stringify(value)
      if (quotes.size < 256) quotes.set(value, json)
    }
    return json
  }
  const internals = logger as unknown as Record<symbol, any>

  const write = (c: Context<AppEnv>, started: number, status: number, end: Omit<ResponseEnd, 'streamed'>) => {
    const level = levelFor(status)
    // `levelVal` is the logger's threshold as a number: cheaper than `isLevelEnabled(name)`.
    if (level.value < logger.levelVal) return
    const route = routeTemplate(c, status)
    const peer = peerAddress(c)
    const ip = trusted.length > 0 ? clientAddress(peer, c.req.raw.headers.get('x-forwarded-for'), trusted) : (peer ?? null)
    const userAgent = c.req.raw.headers.get('user-agent')
    const requestId = c.get('requestId') ?? null
    const traceId = c.get('traceId') ?? null
    if (!direct) {
      const fields = {
        method: c.req.method,
        route,
        path: c.req.path,
        status,
        bytes: end.bytes,
        duration_ms: Math.round((end.endedAt - started) * 1000) / 1000,
        ip,
        user_agent: userAgent,
        request_id: requestId,
        trace_id: traceId,
      }
      logger[level.name](end.aborted ? { ...fields, aborted: true } : fields, message)
      return
    }
    const line =
      `{"level":${level.value}${internals[timeSym]()}${internals[chindingsSym]}` +
      `,"method":${quoted(c.req.method)},"route":${quoted(route)}` +
      `,"path":${jsonString(c.req.path)},"status":${status},"bytes":${end.bytes}` +
      `,"duration_ms":${millis(end.endedAt - started)},"ip":${jsonString(ip)}` +
      `,"user_agent":${jsonString(userAgent)},"request_id":${jsonString(requestId)}` +
      `,"trace_id":${jsonString(traceId)}${end.aborted ? ',"aborted":true' : ''}${msgField}${internals[endSym]}`
    internals[streamSym].write(line)
  }

  return {
    name: 'accessLog',
    before: (c) => {
      markStart(c)
      c.set('logger', lazyChild(logger, c))
    },
    after: (c) => {
      const started = startedAt(c)
      const status = c.res.status
      // Most responses are built by `send()`: their body is already whole, so no listener is needed.
      const bytes = sentBytes(c)
      if (bytes >= 0) write(c, started, status, { bytes, endedAt: respondedAt(c), aborted: false })
      else onResponseEnd(c, (end) => write(c, started, status, end))
    },
  }
}
