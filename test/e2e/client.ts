import assert from 'node:assert/strict'

/** The server under test and what the suite may assume about it. */
export interface E2ETarget {
  /** e.g. `http://127.0.0.1:8080`, without a trailing slash. */
  baseUrl: string
  /** Runtime name, for messages. */
  runtime: string
  /** Two configured users, so checks can tell callers apart. */
  users: { alice: { id: string; key: string }; bob: { id: string; key: string } }
  /** Whether `/metrics` serves Prometheus text on this runtime. */
  metrics: boolean
  /** The configured `RATE_LIMIT_BURST`, expected in `X-RateLimit-Limit`. */
  rateLimitBurst: number
  /**
   * Whether one request may act on work another request started: a chat job outliving the connection
   * that started it, `POST …/stop` aborting it, a resume stream following it live, the hub delivering
   * a message persisted by an HTTP request to a socket opened by another. True on Node, Bun and Deno
   * (one process). False on workerd: it binds I/O objects (streams, sockets, abort signals) to the
   * request that made them ("Cannot perform I/O on behalf of a different request") and cancels a
   * request's pending work when its client hangs up. There the suite checks the same features within
   * one request: replay of a finished job, stop and fan-out over the socket that started the chat.
   */
  crossRequestIo: boolean
  /** The server's JSON log lines so far, read from the file it logs to. */
  logLines(): Record<string, any>[]
}

/** The target is known only once the runner's `before` hook started the server, hence a getter. */
export type TargetRef = () => E2ETarget

/** A response with its body already read (so no socket is left half-consumed). */
export interface E2EResponse {
  status: number
  headers: Headers
  text: string
  json<T = any>(): T
}

/** `fetch` against the target with a bounded timeout; the body is always read. */
export async function call(target: E2ETarget, path: string, init: RequestInit = {}): Promise<E2EResponse> {
  return read(await fetch(`${target.baseUrl}${path}`, { redirect: 'manual', signal: AbortSignal.timeout(10_000), ...init }))
}

/** Reads a response's body once, keeping status and headers. */
export async function read(res: Response): Promise<E2EResponse> {
  const text = await res.text()
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) }
}

/** A JSON request body with its content type. */
export function jsonBody(value: unknown, method = 'POST'): RequestInit {
  return { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) }
}

/** `init` with the user's key added to its headers. */
export function as(key: string, init: RequestInit = {}): RequestInit {
  return { ...init, headers: { ...(init.headers as Record<string, string> | undefined), ...bearer(key) } }
}

/** `Authorization` header for a user's API key. */
export function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` }
}

/** An RFC 9457 problem with the right status, content type and the request id the response header carries. */
export function assertProblem(res: E2EResponse, status: number): Record<string, unknown> {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`)
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/)
  const body = res.json()
  assert.equal(body.status, status)
  assert.equal(typeof body.title, 'string')
  assert.equal(typeof body.request_id, 'string')
  assert.ok(body.request_id.length > 0)
  assert.equal(body.request_id, res.headers.get('x-request-id'))
  return body
}
