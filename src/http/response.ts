import type { Context } from 'hono'
import { getRuntimeKey } from 'hono/adapter'
import type { AppEnv } from '../env.ts'
import { isSent, requestState } from './request-state.ts'

/**
 * Middleware add their response headers to the request's header bag (`requestState(c).headers`), a
 * plain object, instead of `c.header()`: a Response built with plain headers stays on
 * @hono/node-server's fast path, while a `Headers` instance forces the slow one. `send()` builds
 * such a Response; anything else (static files, streams, Hono built-ins) gets the headers copied on
 * by `applyResponseHeaders()`.
 *
 * `send()` also notes the response and its body in the request state (`sentResponse`, `sentBody`),
 * so the observers learn its size without reading `res.body` (which leaves the fast path) and
 * `applyResponseHeaders` knows to leave it alone.
 */
export function send(
  c: Context<AppEnv>,
  body: string | null,
  status: number,
  contentType: string | null,
  extra?: Record<string, string>,
): Response {
  const state = requestState(c)
  // The bag itself becomes the headers when nothing is added, the common case: one object less per
  // request. Only `send()` puts a content type in it, and `applyResponseHeaders` never copies that one.
  const headers = extra === undefined ? state.headers : Object.assign({}, state.headers, extra)
  if (contentType) headers['content-type'] = contentType
  else if ('content-type' in headers) delete headers['content-type']
  const res = build(body, status, headers)
  state.sentResponse = res
  state.sentBody = body
  return res
}

type Build = (body: string | ReadableStream<Uint8Array> | null, status: number, headers: Record<string, string>) => Response

/**
 * The cheapest way to build a Response with a dozen headers differs per runtime (`bench/response.ts`):
 * on Node, @hono/node-server keeps the plain init object and hands it to `writeHead`; Deno and Bun
 * convert a record init slowly (Deno ~5.7 µs for 13 headers) but append onto a bare Response's
 * headers quickly (Deno ~1.5 µs, Bun ~1.1 against ~1.4).
 */
function responseBuilder(runtime: string): Build {
  if (runtime !== 'deno' && runtime !== 'bun') return (body, status, headers) => new Response(body, { status, headers })
  return (body, status, headers) => {
    const res = new Response(body, { status })
    const target = res.headers
    // A string body already got a default content-type: replace it rather than append a second.
    for (const name in headers) {
      if (name.length === 12 && name.toLowerCase() === 'content-type') target.set(name, headers[name])
      else target.append(name, headers[name])
    }
    return res
  }
}

const build = responseBuilder(getRuntimeKey())

/** A JSON response carrying the middleware headers. */
export function json(c: Context<AppEnv>, data: unknown, status = 200, extra?: Record<string, string>): Response {
  return send(c, JSON.stringify(data), status, 'application/json', extra)
}

/** A bodiless response (204, 304, 202 without body) carrying the middleware headers. */
export function empty(c: Context<AppEnv>, status: number, extra?: Record<string, string>): Response {
  return send(c, null, status, null, extra)
}

/**
 * A streaming response (SSE, chunked) carrying the middleware headers and `extra` (which win), built
 * the cheap way for the runtime: on Node with plain headers, so @hono/node-server neither builds nor
 * iterates a `Headers` object for it.
 */
export function streamingResponse(
  c: Context<AppEnv>,
  body: ReadableStream<Uint8Array> | null,
  status: number,
  contentType: string,
  extra: Record<string, string>,
): Response {
  const state = requestState(c)
  // Set last: a content type in the bag is one an earlier `send()` left there.
  const headers = Object.assign({}, state.headers, extra, { 'content-type': contentType })
  const res = build(body, status, headers)
  // Noted for `applyResponseHeaders` to leave alone.
  state.streamedResponse = res
  return res
}

/**
 * Copies the gathered headers onto `c.res` unless `send()` or `streamingResponse()` built it.
 * Headers already set win.
 */
export function applyResponseHeaders(c: Context<AppEnv>, headers: Record<string, string>): void {
  const res = c.res
  if (isSent(c) || res.status === 101 || requestState(c).streamedResponse === res) return
  try {
    const target = res.headers
    // Not the content type: only `send()` puts one in the bag, for its own body.
    for (const name in headers) if (name !== 'content-type' && !target.has(name)) target.set(name, headers[name])
  } catch {
    // Immutable headers (Deno's WebSocket upgrade, a fetched Response): leave them as they are.
  }
}
