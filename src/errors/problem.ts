import { HTTPException } from 'hono/http-exception'
import { HttpProblem, problems } from '../kernel/problem.ts'
import { IdTakenError, InvalidCursorError, QuotaExceededError, StoreUnavailableError, VersionConflictError } from '../storage/ports.ts'

/** Any thrown value as a problem. Unknown errors become a bare 500 whose detail never carries the message. */
export function toProblem(error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error
  // Storage errors: fail fast and say so; nothing was saved that the response does not report.
  if (error instanceof StoreUnavailableError) {
    const detail = error.outcomeUnknown
      ? 'The data store did not confirm the write: it may or may not have been saved. Retry with the same Idempotency-Key'
      : 'The data store is unavailable; retry later'
    return new HttpProblem(503, { detail, headers: { 'retry-after': String(error.retryAfterSeconds) }, cause: error })
  }
  if (error instanceof InvalidCursorError) {
    return problems.badRequest('Invalid query string: cursor', [{ path: 'cursor', message: 'not a cursor returned by this listing' }])
  }
  if (error instanceof VersionConflictError) {
    return new HttpProblem(412, { detail: 'The resource has changed; fetch it again for a fresh ETag', headers: { etag: `"v${error.current}"` } })
  }
  if (error instanceof IdTakenError) return problems.conflict('A resource with this id already exists')
  if (error instanceof QuotaExceededError) {
    const what = error.quota.replace(/_/g, ' ')
    return new HttpProblem(403, {
      detail: `Quota reached: at most ${error.limit} ${what}; delete some to make room`,
      extensions: { quota: error.quota, limit: error.limit },
    })
  }
  if (error instanceof HTTPException) {
    const headers: Record<string, string> = {}
    const fromResponse = error.res?.headers
    fromResponse?.forEach((value, name) => {
      if (name !== 'content-type' && name !== 'content-length') headers[name] = value
    })
    if (error.status === 401 && !headers['www-authenticate']) headers['www-authenticate'] = 'Bearer realm="assistant-server"'
    const detail = error.status < 500 && error.message ? error.message : undefined
    return new HttpProblem(error.status, { detail, headers, cause: error })
  }
  return new HttpProblem(500, { detail: 'An unexpected error occurred', cause: error })
}
