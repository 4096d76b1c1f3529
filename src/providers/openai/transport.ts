import type { Clock, TimerHandle } from '../../kernel/clock.ts'
import { ProviderError } from '../ports.ts'
import { abortError } from '../timing.ts'
import { parseRetryAfter, RetryableError } from './retry.ts'

export interface TransportOptions {
  fetch: typeof fetch
  /** Time allowed until the response headers arrive. */
  connectTimeoutMs: number
  /** Time allowed for each read of the body; the consumer's time between reads does not count. */
  idleTimeoutMs: number
  clock: Clock
}

/** Marks why the exchange's own controller aborted, so a timeout is told apart from the caller's abort. */
class TimeoutSignal extends Error {}

/**
 * One POST whose response body is yielded chunk by chunk. When the caller aborts `signal`, or stops
 * iterating (break, an error downstream), the upstream connection is closed.
 *
 * Fails with an AbortError after the caller's abort; a `ProviderError` for a timeout or a status not
 * worth retrying; a `RetryableError` (see `withRetries`) for 429, 5xx, an unreachable service and a
 * connection lost mid-body.
 */
export async function* postForChunks(
  url: string,
  request: { headers: Record<string, string>; body: string },
  signal: AbortSignal,
  options: TransportOptions,
): AsyncGenerator<Uint8Array> {
  const { clock } = options
  const controller = new AbortController()
  const forwardAbort = () => controller.abort(signal.reason)
  signal.addEventListener('abort', forwardAbort, { once: true })
  let timer: TimerHandle | undefined
  const arm = (ms: number) => {
    clock.clearTimeout(timer)
    timer = clock.setTimeout(() => controller.abort(new TimeoutSignal()), ms)
  }
  const timedOut = () => controller.signal.reason instanceof TimeoutSignal
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
  try {
    arm(options.connectTimeoutMs)
    let response: Response
    try {
      response = await options.fetch(url, { method: 'POST', headers: request.headers, body: request.body, signal: controller.signal })
    } catch (error) {
      if (signal.aborted) throw abortError()
      if (timedOut()) throw new ProviderError('timeout', 'The AI service did not answer in time', { cause: error })
      throw new RetryableError(new ProviderError('unavailable', 'The AI service could not be reached', { cause: error }))
    }
    if (!response.ok || !response.body) {
      // Drain nothing: the body may hold upstream details that must not leak; just release it.
      await response.body?.cancel().catch(() => {})
      const failure = statusError(response.status)
      if (response.status === 429 || response.status >= 500) {
        throw new RetryableError(failure, parseRetryAfter(response.headers.get('retry-after'), clock.now()))
      }
      throw failure
    }
    reader = response.body.getReader()
    for (;;) {
      arm(options.idleTimeoutMs)
      let chunk: ReadableStreamReadResult<Uint8Array>
      try {
        chunk = await reader.read()
      } catch (error) {
        if (signal.aborted) throw abortError()
        if (timedOut()) throw new ProviderError('timeout', 'The AI service stopped sending data', { cause: error })
        throw new RetryableError(new ProviderError('upstream_error', 'The connection to the AI service was lost', { cause: error }))
      }
      clock.clearTimeout(timer)
      if (chunk.done) return
      yield chunk.value
    }
  } finally {
    clock.clearTimeout(timer)
    signal.removeEventListener('abort', forwardAbort)
    // Closes the upstream connection when the caller stops early (break, abort, error).
    if (!controller.signal.aborted) controller.abort()
    reader?.releaseLock()
  }
}

/** Messages a client may see: never the upstream body, which can echo keys or internal details. */
export function statusError(status: number): ProviderError {
  const options = { upstreamStatus: status }
  if (status === 429) return new ProviderError('rate_limited', 'The AI service is rate limiting requests', options)
  if (status === 401 || status === 403) return new ProviderError('upstream_error', 'The AI service refused the configured credentials', options)
  if (status === 408 || status === 504) return new ProviderError('timeout', 'The AI service timed out', options)
  if (status === 503 || status === 502) return new ProviderError('unavailable', 'The AI service is unavailable', options)
  if (status >= 500) return new ProviderError('upstream_error', 'The AI service failed', options)
  return new ProviderError('bad_request', 'The AI service rejected the request', options)
}
