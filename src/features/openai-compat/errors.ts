import { toProblem } from '../../errors/problem.ts'
import { HttpProblem, type ProblemFormat } from '../../kernel/problem.ts'
import { ProviderError } from '../../providers/ports.ts'
import { providerProblem } from '../../providers/problem.ts'

/** OpenAI's error object, as its SDKs parse it (`APIError.error`). */
export interface OpenAIError {
  message: string
  type: string
  param: string | null
  code: string | null
  /** Ours: the same id as the `X-Request-ID` header, for support requests. */
  request_id: string
}

/** OpenAI's own `type` for each status; the SDKs pick their error class by status alone. */
function typeOf(status: number): string {
  if (status === 401) return 'invalid_request_error'
  if (status === 403) return 'permission_error'
  if (status === 429) return 'rate_limit_error'
  if (status >= 500) return 'server_error'
  return 'invalid_request_error'
}

function defaultCode(status: number): string | null {
  if (status === 401) return 'invalid_api_key'
  if (status === 429) return 'rate_limit_exceeded'
  if (status === 504) return 'timeout'
  return null
}

/** `param`: ours where a problem names one, else the first invalid field of a validation problem. */
function paramOf(problem: HttpProblem): string | null {
  const extensions = problem.extensions ?? {}
  if (typeof extensions.param === 'string') return extensions.param
  const errors = extensions.errors
  if (Array.isArray(errors) && typeof errors[0]?.path === 'string' && errors[0].path !== '') return errors[0].path
  return null
}

/** Any problem as OpenAI's error object; 5xx messages are the problem's safe detail, never a stack. */
export function openAIError(problem: HttpProblem, requestId: string): OpenAIError {
  const code = problem.extensions?.code
  const first = (problem.extensions?.errors as { message?: unknown }[] | undefined)?.[0]?.message
  const detail = problem.detail ?? problem.title
  return {
    message: typeof first === 'string' && !detail.includes(first) ? `${detail} (${first})` : detail,
    type: typeOf(problem.status),
    param: paramOf(problem),
    code: typeof code === 'string' ? code : defaultCode(problem.status),
    request_id: requestId,
  }
}

/**
 * Problems under `/v1` as `{error: {message, type, param, code}}`: what OpenAI clients parse. The
 * status, `Retry-After`, `WWW-Authenticate` and `X-Request-ID` stay as they are everywhere else.
 */
export const OPENAI_ERRORS: ProblemFormat = {
  contentType: 'application/json',
  body: (problem, requestId) => ({ error: openAIError(problem, requestId) }),
}

/** A request naming a model this server does not offer: 404, as OpenAI answers it. */
export function modelNotFound(model: string): HttpProblem {
  return new HttpProblem(404, {
    detail: `The model \`${model}\` does not exist or you do not have access to it.`,
    extensions: { param: 'model', code: 'model_not_found' },
  })
}

/** A 400 naming the offending field. */
export function invalidRequest(message: string, param: string): HttpProblem {
  return new HttpProblem(400, { detail: message, extensions: { param, errors: [{ path: param, message }] } })
}

/** Any failure of a completion as a problem: provider failures keep their status (502, 503, 504). */
export function completionProblem(error: unknown): HttpProblem {
  return error instanceof ProviderError ? providerProblem(error) : toProblem(error)
}
