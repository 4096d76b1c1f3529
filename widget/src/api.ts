// HTTP to /api/v1 with the API key as a Bearer token; failures become ApiError with the problem's words.

export const API = '/api/v1'

/** A failed request: the status and what the server's problem+json said (detail and field errors). */
export class ApiError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

interface Problem {
  title?: string
  detail?: string
  errors?: { path?: string; message?: string }[]
}

/** "detail: field message; …" — the field messages carry the reason (e.g. the size limit). */
export function problemMessage(problem: Problem, status: number): string {
  const detail = problem.detail || problem.title || `HTTP ${status}`
  const reasons = (problem.errors ?? []).map((error) => error.message).filter((message): message is string => !!message)
  return reasons.length > 0 ? `${detail}: ${reasons.join('; ')}` : detail
}

export async function errorOf(res: Response): Promise<ApiError> {
  let problem: Problem = {}
  try {
    problem = await res.json()
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  return new ApiError(res.status, problemMessage(problem, res.status))
}

export class Api {
  key = ''
  /** Called on a 401, after which the request rejects. */
  onUnauthorized: () => void = () => {}

  headers(extra?: Record<string, string>): Record<string, string> {
    return { authorization: `Bearer ${this.key}`, ...extra }
  }

  /** A raw fetch under /api/v1 with the key; the caller reads the response. */
  fetch(path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Response> {
    return fetch(API + path, { ...init, headers: this.headers(init.headers) })
  }

  async json<T>(path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<T> {
    const res = await this.fetch(path, init)
    if (res.status === 401) this.onUnauthorized()
    if (!res.ok) throw await errorOf(res)
    return (res.status === 204 ? null : await res.json()) as T
  }

  send<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.json<T>(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  }
}

export interface ToolTrace {
  id: string
  name: string
  arguments?: unknown
  result?: unknown
  error?: { status?: number; detail?: string }
}

export interface StoredMessage {
  id: string
  role: 'user' | 'assistant' | 'system' | 'tool'
  content: string
  status?: string
  tools?: ToolTrace[]
}

export interface ConversationSummary {
  id: string
  title: string | null
  updated_at?: string
}

export interface ConversationDetail extends ConversationSummary {
  messages: StoredMessage[]
}
