import type { Context } from 'hono'
import { getRuntimeKey } from 'hono/adapter'
import { problemBody, type HttpProblem, type ProblemFormat } from '../kernel/problem.ts'
import { scopeOf } from './scope.ts'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** The default problem format; the pipeline's `formats` choose another for some routes. */
export const RFC9457: ProblemFormat = { contentType: PROBLEM_CONTENT_TYPE, body: problemBody }

type Build = (body: string | ReadableStream<Uint8Array> | null, status: number, headers: Record<string, string>) => Response

/**
 * The cheapest way to build a Response with a dozen headers differs per runtime (`bench/response.ts`):
 * on Node, @hono/node-server keeps a plain init object and hands it to `writeHead`, while a `Headers`
 * object sends it down its slow path; Deno and Bun convert a record init slowly (Deno ~5.7 µs for 13
 * headers) but append onto a bare Response's headers quickly (Deno ~1.5 µs, Bun ~1.1).
 */
function responseBuilder(runtime: string): Build {
  if (runtime !== 'deno' && runtime !== 'bun') return (body, status, headers) => new Response(body, { status, headers })
  return (body, status, headers) => {
    const res = new Response(body, { status })
    const target = res.headers
    // A string body already got a default content-type: replace it rather than append a second.
    for (const name in headers) {
      if (name === 'content-type') target.set(name, headers[name])
      else target.append(name, headers[name])
    }
    return res
  }
}

const build = responseBuilder(getRuntimeKey())

/**
 * A response with the gathered headers and `extra` (which win) built in one go. The pipeline notes it,
 * so it neither copies the headers again nor reads the body to learn its size.
 */
export function send(c: Context, body: string | null, status: number, contentType: string | null, extra?: Record<string, string>): Response {
  const scope = scopeOf(c)
  // The bag itself becomes the headers when nothing is added, the common case: one object less.
  const headers = extra === undefined ? scope.headers : Object.assign({}, scope.headers, extra)
  if (contentType) headers['content-type'] = contentType
  else if ('content-type' in headers) delete headers['content-type']
  const res = build(body, status, headers)
  scope.sent = res
  scope.sentBody = body
  return res
}

/** JSON with the gathered headers. */
export function json(c: Context, data: unknown, status = 200, extra?: Record<string, string>): Response {
  return send(c, JSON.stringify(data), status, 'application/json', extra)
}

/** A bodiless response (204, 304, 202) with the gathered headers. */
export function empty(c: Context, status: number, extra?: Record<string, string>): Response {
  return send(c, null, status, null, extra)
}

/**
 * A problem carrying the request id, with the problem's own headers (`Retry-After`, `Allow`), in the
 * format of the route (RFC 9457 unless the pipeline chose another for it).
 */
export function problem(c: Context, thrown: HttpProblem): Response {
  const requestId = (c.get('requestId') as string | undefined) ?? ''
  const format = scopeOf(c).problemFormat ?? RFC9457
  return send(c, JSON.stringify(format.body(thrown, requestId)), thrown.status, format.contentType, thrown.headers)
}

/**
 * A streaming response (SSE, chunked) with the gathered headers and `extra` (which win), built the
 * cheap way for the runtime. The writer reports its bytes and end through `scopeOf(c).reportStream`.
 */
export function streamingResponse(
  c: Context,
  body: ReadableStream<Uint8Array> | null,
  status: number,
  contentType: string,
  extra: Record<string, string>,
): Response {
  const scope = scopeOf(c)
  const headers = Object.assign({}, scope.headers, extra, { 'content-type': contentType })
  const res = build(body, status, headers)
  scope.streamed = res
  return res
}
