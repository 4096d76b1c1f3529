// (b) on Bun and Deno: bare Hono on the runtime's own server, the baseline the full chain is held to.
// BENCH_HEADERS=1 adds the app's response header set (security headers, request id, rate-limit
// headers), built as `send()` builds it on these runtimes (a bare Response, then one append per
// header), to separate what those headers cost from what the chain costs.
import { Hono } from 'hono'
import { loadConfig } from '../../src/config/index.ts'
import { buildSecurityHeaders } from '../../src/middleware/security-headers/index.ts'
import { serveFetch } from './serve-fetch.ts'

const body = { data: [], next_cursor: null }
const app = new Hono()
if (process.env.BENCH_HEADERS) {
  const security = buildSecurityHeaders((await loadConfig({ env: {} })).server.security)
  app.get('/api/v1/me', () => {
    const res = new Response(JSON.stringify(body), { status: 200 })
    const headers: Record<string, string> = {
      'x-request-id': crypto.randomUUID(),
      ...security,
      'x-ratelimit-limit': '10',
      'x-ratelimit-remaining': '9',
      'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000)),
    }
    for (const name in headers) res.headers.append(name, headers[name])
    res.headers.set('content-type', 'application/json')
    return res
  })
} else {
  app.get('/api/v1/me', (c) => c.json(body))
}
serveFetch(app.fetch)
