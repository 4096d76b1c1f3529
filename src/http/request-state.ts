import type { Context } from 'hono'
import type { StreamProgress } from '../observability/response-end.ts'

/**
 * Bookkeeping the chain and `send()` share for one request, the response header bag included. Kept
 * in one object on the context rather than in `c.var`: Hono keeps variables in a Map, where each of
 * these fields would cost a set and a few gets per request and grow the Map past its first size (the
 * app's own variables fit in it). Internal to the app: handlers read `c.var`.
 */
export interface RequestState {
  /**
   * Response headers gathered by the middleware as a plain object (see `src/http/response.ts`):
   * `send()` builds its Response from them, `applyResponseHeaders()` copies them onto any other.
   */
  headers: Record<string, string>
  /** The request has entered the endpoint pipeline (`src/middleware/pipeline`). */
  pipelined: boolean
  /** `performance.now()` when the observing middleware first saw the request (`markStart`). */
  startedAt: number | undefined
  /** `performance.now()` when the first observer saw the finished response (`respondedAt`). */
  respondedAt: number | undefined
  /** The route template, worked out once (`src/observability/route.ts`). */
  route: string | undefined
  /** The response `send()` built and its body, so observers know its size without reading it. */
  sentResponse: Response | undefined
  sentBody: string | null
  /** The streaming response `streamingResponse()` built with the bag already in its headers. */
  streamedResponse: Response | undefined
  /** A streamed response whose bytes and end are being followed (`src/observability/response-end.ts`), and that progress. */
  watchedResponse: Response | undefined
  progress: StreamProgress | undefined
}

const STATE = Symbol('requestState')

/** Whether `c.res` is the response `send()` built: its headers came from the bag, its body is known. */
export function isSent(c: Context): boolean {
  return requestState(c).sentResponse === c.res
}

/** The request's state, made on first use. */
export function requestState(c: Context): RequestState {
  const holder = c as Context & { [STATE]?: RequestState }
  // Every field is present from the start, so every request's state has the same shape.
  return (holder[STATE] ??= {
    headers: {},
    pipelined: false,
    startedAt: undefined,
    respondedAt: undefined,
    route: undefined,
    sentResponse: undefined,
    sentBody: null,
    streamedResponse: undefined,
    watchedResponse: undefined,
    progress: undefined,
  })
}
