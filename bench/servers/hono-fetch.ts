// (b) on Bun and Deno: bare Hono on the runtime's own server, the baseline the full chain is held to.
import { Hono } from 'hono'
import { serveFetch } from './serve-fetch.ts'

const body = { data: [], next_cursor: null }
const app = new Hono()
app.get('/api/v1/me', (c) => c.json(body))
serveFetch(app.fetch)
