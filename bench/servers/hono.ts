// (b) bare Hono on @hono/node-server: the baseline the full chain is held to.
// BENCH_HEADERS=1 adds the app's response header set (security headers, request id, rate-limit
// headers) as a plain object, to separate what sending those bytes costs from what the chain costs;
// BENCH_ACCESS_LOG=1 as well writes the app's access line for each request (access-line.ts).
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { accessLine } from './access-line.ts'
import { appHeaders } from './app-headers.ts'

const path = '/api/v1/me'
const body = { data: [], next_cursor: null }
const app = new Hono()
if (process.env.BENCH_HEADERS) {
  const headers = await appHeaders()
  const log = process.env.BENCH_ACCESS_LOG ? await accessLine(path) : undefined
  app.get(path, (c) => {
    const startedAt = log ? performance.now() : 0
    const set = headers()
    const text = JSON.stringify(body)
    const res = new Response(text, { headers: { ...set, 'content-type': 'application/json' } })
    log?.(c, set['x-request-id'], 200, text, startedAt)
    return res
  })
} else {
  app.get(path, (c) => c.json(body))
}
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.PORT) })
// Exit normally on SIGINT so `node --cpu-prof` writes its profile.
process.on('SIGINT', () => process.exit(0))
