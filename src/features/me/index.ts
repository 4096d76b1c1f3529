import { Hono } from 'hono'
import type { AppEnv } from '../../env.ts'
import { json } from '../../pipeline/index.ts'

/** `GET /me`: who the API key belongs to. Lets a client (and the widget) check a key. */
export function meRoutes() {
  return new Hono<AppEnv>().get('/me', (c) => json(c, { id: c.get('user').id }))
}
