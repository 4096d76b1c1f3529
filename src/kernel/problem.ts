export const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  426: 'Upgrade Required',
  422: 'Unprocessable Content',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

export interface ProblemInit {
  detail?: string
  /** A URI reference naming the problem type; defaults to `about:blank` per RFC 9457 §4.2.1. */
  type?: string
  title?: string
  /** Extra members, e.g. `errors` for validation failures. */
  extensions?: Record<string, unknown>
  /** Response headers that belong with the problem (`Retry-After`, `WWW-Authenticate`, `Allow`). */
  headers?: Record<string, string>
  cause?: unknown
}

/** Thrown anywhere; `onError` turns it into an RFC 9457 response. */
export class HttpProblem extends Error {
  readonly status: number
  readonly title: string
  readonly type: string
  readonly detail: string | undefined
  readonly extensions: Record<string, unknown> | undefined
  readonly headers: Record<string, string> | undefined

  constructor(status: number, init: ProblemInit = {}) {
    super(init.detail ?? TITLES[status] ?? `HTTP ${status}`, { cause: init.cause })
    this.name = 'HttpProblem'
    this.status = status
    this.title = init.title ?? TITLES[status] ?? 'Error'
    this.type = init.type ?? 'about:blank'
    this.detail = init.detail
    this.extensions = init.extensions
    this.headers = init.headers
  }
}

export interface FieldError {
  path: string
  message: string
}

export const problems = {
  badRequest: (detail: string, errors?: FieldError[]) =>
    new HttpProblem(400, { detail, extensions: errors ? { errors } : undefined }),
  unauthorized: (detail = 'A valid API key is required') =>
    new HttpProblem(401, { detail, headers: { 'www-authenticate': 'Bearer realm="assistant-server"' } }),
  forbidden: (detail: string) => new HttpProblem(403, { detail }),
  notFound: (detail = 'The requested resource does not exist') => new HttpProblem(404, { detail }),
  conflict: (detail: string) => new HttpProblem(409, { detail }),
  preconditionFailed: (detail: string) => new HttpProblem(412, { detail }),
  tooLarge: (limit: number) =>
    new HttpProblem(413, { detail: `The request body exceeds the limit of ${limit} bytes` }),
  tooManyRequests: (retryAfterSeconds: number, headers: Record<string, string> = {}) =>
    new HttpProblem(429, {
      detail: `Rate limit exceeded; retry after ${retryAfterSeconds} s`,
      headers: { ...headers, 'retry-after': String(retryAfterSeconds) },
    }),
  unavailable: (detail: string, retryAfterSeconds = 5) =>
    new HttpProblem(503, { detail, headers: { 'retry-after': String(retryAfterSeconds) } }),
  /** The client did not finish sending its request in time; the connection closes (RFC 9110 §15.5.9). */
  requestTimeout: (detail = 'The request body did not arrive in time') =>
    new HttpProblem(408, { detail, headers: { connection: 'close' } }),
  gatewayTimeout: (detail = 'The request took too long to complete') => new HttpProblem(504, { detail }),
}

/** The JSON body of a problem, for transports that are not plain HTTP responses (SSE, WebSocket). */
export function problemBody(problem: HttpProblem, requestId: string): Record<string, unknown> {
  return {
    type: problem.type,
    title: problem.title,
    status: problem.status,
    ...(problem.detail === undefined ? {} : { detail: problem.detail }),
    ...problem.extensions,
    request_id: requestId,
  }
}


/**
 * How problems are written on the wire. RFC 9457 (`problemBody`) by default; a route family whose
 * clients parse another shape (OpenAI's `{error}` under `/v1`) gets its own through the pipeline.
 */
export interface ProblemFormat {
  contentType: string
  body(problem: HttpProblem, requestId: string): unknown
}
