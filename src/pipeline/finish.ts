import type { Context } from 'hono'
import { countBody, isStreaming, StreamProgress, utf8Length, type ResponseEnd } from './end.ts'
import type { RequestScope } from './scope.ts'

/** Where an observer's failure is reported; it never changes the response. */
export type FailureReport = (stage: string, error: unknown) => void

/**
 * Puts the gathered headers on `c.res` unless a builder made it with them. A header the response
 * already has wins, except `Vary`, which is merged. Headers that cannot change (a fetched Response)
 * get a copy of the response instead; a 101 is left alone (Deno must get its upgrade response back).
 */
export function applyHeaders(c: Context, scope: RequestScope): void {
  const res = c.res
  if (res === scope.sent || res === scope.streamed || res.status === 101) return
  const gathered = scope.headers
  try {
    const target = res.headers
    for (const name in gathered) {
      // Only a builder puts a content type in the bag, for its own body.
      if (name === 'content-type') continue
      const existing = target.get(name)
      if (existing === null) target.set(name, gathered[name])
      else if (name === 'vary' && existing !== gathered[name]) target.set(name, `${existing}, ${gathered[name]}`)
    }
  } catch {
    const headers = new Headers(res.headers)
    for (const name in gathered) if (name !== 'content-type' && !headers.has(name)) headers.set(name, gathered[name])
    // Clearing first stops Hono from copying the old response's headers onto the new one.
    c.res = undefined
    c.res = new Response(res.body, { status: res.status, statusText: res.statusText, headers })
  }
}

/**
 * Tells the end listeners about the response: at once for a body whose size is known, at the end of
 * the stream (or its cancellation) otherwise. A body nobody reports on is followed through a counting
 * copy. Each listener's failure is reported and does not stop the others.
 */
export function reportEnd(c: Context, scope: RequestScope, report: FailureReport): void {
  const listeners = scope.ends
  if (listeners === undefined) return
  const res = c.res
  const status = res.status
  const fire = (bytes: number, endedAt: number, streamed: boolean, aborted: boolean) => {
    const end: ResponseEnd = { status, bytes, endedAt, streamed, aborted }
    for (const listener of listeners) {
      try {
        listener(end)
      } catch (error) {
        report(listener.name || 'onEnd', error)
      }
    }
  }
  const head = c.req.method === 'HEAD'
  if (res === scope.sent) {
    const body = scope.sentBody
    fire(body === null || head ? 0 : utf8Length(body), scope.responded(), false, false)
    return
  }
  if (res === scope.streamed && scope.progress) {
    scope.progress.follow(fire)
    return
  }
  const source = head || status === 101 ? null : res.body
  if (!source) {
    fire(0, scope.responded(), false, false)
    return
  }
  const progress = new StreamProgress(isStreaming(res))
  const counted = countBody(res, source, progress)
  scope.reportStream(counted, progress)
  // Clearing first stops Hono from copying the old response's headers onto the new one a second time.
  c.res = undefined
  c.res = counted
  progress.follow(fire)
}

/** Reports failures without flooding: the first of each stage at once, later ones at most once a minute. */
export function throttledReport(write: (stage: string, error: unknown, suppressed: number) => void, now: () => number = Date.now): FailureReport {
  const seen = new Map<string, { at: number; suppressed: number }>()
  return (stage, error) => {
    const last = seen.get(stage)
    const time = now()
    if (last !== undefined && time - last.at < 60_000) {
      last.suppressed++
      return
    }
    seen.set(stage, { at: time, suppressed: 0 })
    try {
      write(stage, error, last?.suppressed ?? 0)
    } catch {
      // The reporter's own sink failed (the log is the failing observer): nothing more can be said.
    }
  }
}
