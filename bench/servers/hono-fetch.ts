// (b) on Bun and Deno: bare Hono on the runtime's own server, the baseline the full chain is held to.
// BENCH_HEADERS=1 adds the app's response header set (security headers, request id, rate-limit
// headers), built as `send()` builds it on these runtimes (a bare Response, then one append per
// header), to separate what those headers cost from what the chain costs.
import { Hono } from 'hono'
import { appHeaders } from './app-headers.ts'
import { serveFetch } from './serve-fetch.ts'

const body = { data: [], next_cursor: null }
const app = new Hono()
if (process.env.BENCH_HEADERS) {
  const headers = await appHeaders()
  app.get('/api/v1/me', () => {
    const res = new Response(JSON.stringify(body), { status: 200 })
    const set = headers()
    for (const name in set) res.headers.append(name, set[name])
    res.headers.set('content-type', 'application/json')
    return res
  })
} else {
  app.get('/api/v1/me', (c) => c.json(body))
}
serveFetch(app.fetch)
