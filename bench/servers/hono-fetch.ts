// (b) on Bun and Deno: bare Hono on the runtime's own server, the baseline the full chain is held to.
// BENCH_HEADERS=1 adds the app's response header set (security headers, request id, rate-limit
// headers), built as `send()` builds it on these runtimes (a bare Response, then one append per
// header), to separate what those headers cost from what the chain costs; BENCH_ACCESS_LOG=1 as
// well writes the app's access line for each request (access-line.ts).
import { Hono } from 'hono'
import { accessLine } from './access-line.ts'
import { appHeaders } from './app-headers.ts'
import { serveFetch } from './serve-fetch.ts'

const path = '/api/v1/me'
const body = { data: [], next_cursor: null }
const app = new Hono()
if (process.env.BENCH_HEADERS) {
  const headers = await appHeaders()
  const log = process.env.BENCH_ACCESS_LOG ? await accessLine(path) : undefined
  app.get(path, (c) => {
    const startedAt = log ? performance.now() : 0
    const text = JSON.stringify(body)
    const res = new Response(text, { status: 200 })
    const set = headers()
    for (const name in set) res.headers.append(name, set[name])
    res.headers.set('content-type', 'application/json')
    log?.(c, set['x-request-id'], 200, text, startedAt)
    return res
  })
} else {
  app.get(path, (c) => c.json(body))
}
serveFetch(app.fetch)
