import type { IncomingMessage, ServerResponse } from 'node:http'

type Fetch = (request: Request, env: any) => unknown
type NodeEnv = { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined

export interface EarlyAnswerOptions {
  /**
   * Most bytes of an unread request body read and dropped before an early answer. Default 4 MiB.
   * A stopped web stream reader (the body limit's) still queues what it is handed until the request
   * is done, so this also bounds the memory an early answer holds for up to `drainMs`.
   */
  drainBytes?: number
  /** Longest wait for the rest of an unread request body before an early answer. Default 1 s. */
  drainMs?: number
}

/**
 * Whether the app answered an HTTP/1 request before reading its whole body: the body is still arriving,
 * or a reader started on it and stopped (a 413 from the body limit). A body nobody touched and that
 * has fully arrived is not: @hono/node-server drains it after the response and the connection stays.
 */
function answeredEarly(incoming: IncomingMessage): boolean {
  return !incoming.complete || (incoming.readableFlowing !== null && !incoming.readableEnded)
}

/** Reads and drops what is left of the request body; resolves at its end, after `maxBytes` more bytes or `maxMs`. */
function drain(incoming: IncomingMessage, maxBytes: number, maxMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (incoming.readableEnded || incoming.destroyed) return resolve()
    let bytes = 0
    const done = () => {
      clearTimeout(timer)
      incoming.off('pause', keepFlowing)
      incoming.off('data', onData)
      incoming.off('end', done)
      incoming.off('close', done)
      incoming.off('error', done)
      resolve()
    }
    const onData = (chunk: Buffer) => {
      bytes += chunk.length
      if (bytes > maxBytes) done()
    }
    // A web stream reader the app stopped reading (the body limit's) pauses the request whenever its
    // queue is full; the drain resumes it each time (what it queues is dropped with the request).
    const keepFlowing = () => queueMicrotask(() => incoming.resume())
    const timer = setTimeout(done, maxMs)
    incoming.on('data', onData)
    incoming.on('pause', keepFlowing)
    incoming.once('end', done)
    incoming.once('close', done)
    incoming.once('error', done)
    incoming.resume()
  })
}

/**
 * Wraps the app's `fetch` so an early answer on HTTP/1.1 (a 413, or a 401 or 429 on a POST, sent before
 * the body was read) closes its connection instead of leaving a keep-alive client to send its next
 * request into the unread rest of the body: the answer carries `Connection: close`, and Node closes
 * the connection once it is written. The rest of the body is read and dropped first, within bounds,
 * so the close does not reset a connection with unread data, which could cost the client the answer
 * itself (RFC 9112 §9.6, "the TCP reset problem"). HTTP/2 needs none of this: @hono/node-server
 * resets just that stream.
 */
export function closingEarlyAnswers(fetch: Fetch, options: EarlyAnswerOptions = {}): Fetch {
  const drainBytes = options.drainBytes ?? 4 * 1024 * 1024
  const drainMs = options.drainMs ?? 1000
  const settle = async (env: NodeEnv, response: unknown): Promise<unknown> => {
    const { incoming, outgoing } = env!
    // A 408 says the body is not coming: waiting for the rest would only delay the answer.
    if ((response as Response | undefined)?.status !== 408) await drain(incoming!, drainBytes, drainMs)
    if (!outgoing!.headersSent) outgoing!.setHeader('connection', 'close')
    return response
  }
  // A 413 refused the body whether or not the body limit read the rest of it (within its own bounds).
  const early = (env: NodeEnv, response: unknown): boolean => (response as Response | undefined)?.status === 413 || answeredEarly(env!.incoming!)
  return (request, env: NodeEnv) => {
    const incoming = env?.incoming
    // GET and HEAD (most requests) carry no body to answer early to: they pay one property read.
    const method = incoming?.method
    if (method === undefined || method === 'GET' || method === 'HEAD' || incoming!.httpVersionMajor !== 1 || !env!.outgoing) return fetch(request, env)
    const result = fetch(request, env)
    if (result instanceof Promise) return result.then((response) => (early(env, response) ? settle(env, response) : response))
    return early(env, result) ? settle(env, result) : result
  }
}
