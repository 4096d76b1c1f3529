import { Hono } from 'hono'
import type { AppEnv } from '../../env.ts'
import { problems } from '../../kernel/problem.ts'
import { empty, json } from '../../pipeline/index.ts'
import { validate } from '../../middleware/validation/index.ts'
import type { MemoryItem, MemoryStore } from '../../storage/ports.ts'
import { ID_PATTERN, idempotencyKey } from '../conversations/schema.ts'
import { listQuery, searchInput, storeInput } from './schema.ts'

export interface MemoryRoutesOptions {
  store: MemoryStore
}

export function memoryJson(item: MemoryItem) {
  return {
    id: item.id,
    content: item.content,
    tags: item.tags,
    metadata: item.metadata,
    created_at: new Date(item.createdAt).toISOString(),
  }
}

/** `/memory`: store, search (best first), list (newest first, cursor pages), delete; scoped to `c.var.user`. */
export function memoryRoutes(options: MemoryRoutesOptions) {
  const { store } = options
  return new Hono<AppEnv>()
    .post('/memory/store', validate('json', storeInput), async (c) => {
      const key = idempotencyKey(c.req.header('idempotency-key'))
      const item = await store.store(c.get('user').id, { ...c.req.valid('json'), idempotencyKey: key })
      const location = c.req.path.replace(/\/store$/, `/${encodeURIComponent(item.id)}`)
      return json(c, memoryJson(item), 201, { location })
    })
    .post('/memory/search', validate('json', searchInput), async (c) => {
      const { query, limit, tags } = c.req.valid('json')
      const results = await store.search(c.get('user').id, { query, limit, tags })
      return json(c, { results: results.map((item) => ({ ...memoryJson(item), score: item.score })) })
    })
    .get('/memory', validate('query', listQuery), async (c) => {
      const { limit, cursor } = c.req.valid('query')
      const page = await store.list(c.get('user').id, { limit, cursor })
      return json(c, { data: page.items.map(memoryJson), next_cursor: page.nextCursor })
    })
    .delete('/memory/:id', async (c) => {
      const id = c.req.param('id')
      if (!ID_PATTERN.test(id) || !(await store.delete(c.get('user').id, id))) throw problems.notFound('Memory item not found')
      return empty(c, 204)
    })
}
