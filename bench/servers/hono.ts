// (b) bare Hono on @hono/node-server: the baseline the full chain is held to.
// BENCH_HEADERS=1 adds the app's response header set (security headers, request id, rate-limit
// headers) as a plain object, to separate what sending those bytes costs from what the chain costs.
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { appHeaders } from './app-headers.ts'

const body = { data: [], next_cursor: null }
const app = new Hono()
if (process.env.BENCH_HEADERS) {
  const headers = await appHeaders()
  app.get('/api/v1/me', () => new Response(JSON.stringify(body), { headers: { ...headers(), 'content-type': 'application/json' } }))
} else {
  app.get('/api/v1/me', (c) => c.json(body))
}
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.PORT) })
// Exit normally on SIGINT so `node --cpu-prof` writes its profile.
process.on('SIGINT', () => process.exit(0))
