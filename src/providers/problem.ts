import { HttpProblem } from '../kernel/problem.ts'
import { ProviderError } from './ports.ts'

/**
 * A provider failure as the problem a client sees: 504 for timeouts, 503 (with Retry-After) when the
 * AI service is unavailable or rate limiting us, 502 for everything else it got wrong. The detail is
 * the `ProviderError` message, which never carries upstream bodies or keys; `code` is the
 * `ProviderError` code (WebSocket error frames and SSE `error` events carry it).
 */
export function providerProblem(error: ProviderError): HttpProblem {
  const init = { detail: error.message, extensions: { code: error.code }, cause: error }
  switch (error.code) {
    case 'timeout':
      return new HttpProblem(504, init)
    case 'rate_limited':
    case 'unavailable':
      return new HttpProblem(503, { ...init, headers: { 'retry-after': '5' } })
    default:
      return new HttpProblem(502, init)
  }
}
