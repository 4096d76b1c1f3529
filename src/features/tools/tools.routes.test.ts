import assert from 'node:assert/strict'
import { systemClock } from '../../kernel/clock.ts'
import { describe, it } from 'node:test'
import { Hono } from 'hono'
import pino from 'pino'
import type { AppEnv } from '../../env.ts'
import { recovery } from '../../middleware/recovery/index.ts'
import { requestId } from '../../middleware/request-id/index.ts'
import type { MemoryItem, MemoryStore } from '../../storage/ports.ts'
import { createToolRegistry, toolRoutes } from './index.ts'

/** Just enough of a MemoryStore: per-user lists, search by shared lowercase words. */
function fakeMemory(): MemoryStore {
  const items: MemoryItem[] = []
  let next = 1
  return {
    count: async (userId) => items.filter((item) => item.userId === userId).length,
    async store(userId, item) {
      const stored = { id: `m${next++}`, userId, content: item.content, tags: item.tags ?? [], metadata: item.metadata ?? {}, createdAt: 1_700_000_000_000 }
      items.push(stored)
      return stored
    },
    async search(userId, { query, limit, tags }) {
      const terms = query.toLowerCase().split(/\s+/)
      return items
        .filter((item) => item.userId === userId && (tags ?? []).every((tag) => item.tags.includes(tag)))
        .map((item) => ({ ...item, score: terms.filter((term) => item.content.toLowerCase().includes(term)).length }))
        .filter((item) => item.score > 0)
        .slice(0, limit)
    },
    async list() {
      return { items: [], nextCursor: null }
    },
    async delete() {
      return false
    },
  }
}

const TOOLS_CONFIG = { workspace_root: null, timeout: 1_000, max_rounds: 4, max_file_bytes: 1024, max_search_results: 10 }
const NOW = Date.parse('2026-03-01T12:34:56.000Z')

/** The real header bag, request id and error handler, with the user set as auth would. */
function app() {
  const registry = createToolRegistry({ memory: fakeMemory(), config: TOOLS_CONFIG, clock: { ...systemClock, now: () => NOW } })
  const logger = pino({ level: 'silent' })
  const app = new Hono<AppEnv>()
  app.use(requestId())
  app.use(async (c, next) => {
    c.set('log', () => logger)
    c.set('user', { id: c.req.header('x-test-user') ?? 'alice' })
    await next()
  })
  app.route('/api/v1', toolRoutes(registry))
  app.onError(recovery({ logger }))
  return app
}

function execute(target: Hono<AppEnv>, name: string, body: unknown, user = 'alice') {
  return target.request(`/api/v1/tools/${name}/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-test-user': user },
    body: JSON.stringify(body),
  })
}

async function problem(res: Response, status: number) {
  assert.equal(res.status, status)
  assert.equal(res.headers.get('content-type'), 'application/problem+json')
  const body = await res.json()
  assert.equal(body.status, status)
  assert.ok(body.request_id, 'problem carries request_id')
  return body
}

describe('tool routes', () => {
  it('GET /tools lists the built-in tools with JSON Schema parameters (no workspace tools without a root)', async () => {
    const res = await app().request('/api/v1/tools')
    assert.equal(res.status, 200)
    assert.ok(res.headers.get('x-request-id'))
    const { tools } = await res.json()
    assert.deepEqual(tools.map((tool: { name: string }) => tool.name), ['calculator', 'current_time', 'memory_search', 'memory_store'])
    const calculator = tools[0]
    assert.match(calculator.description, /arithmetic/)
    assert.equal(calculator.parameters.type, 'object')
    assert.deepEqual(calculator.parameters.required, ['expression'])
    assert.equal(calculator.parameters.properties.expression.type, 'string')
  })

  it('runs the calculator', async () => {
    const res = await execute(app(), 'calculator', { arguments: { expression: '(2 + 3) × 4 ^ 2 − 10 % 4' } })
    assert.equal(res.status, 200)
    const body = await res.json()
    assert.deepEqual(body.result, { expression: '(2 + 3) × 4 ^ 2 − 10 % 4', result: 78 })
    assert.equal(typeof body.duration_ms, 'number')
  })

  it('answers 400 naming expression for bad syntax, 422 for division by zero', async () => {
    const syntax = await problem(await execute(app(), 'calculator', { arguments: { expression: '2 +* 3' } }), 400)
    assert.deepEqual(syntax.errors.map((error: { path: string }) => error.path), ['expression'])
    const zero = await problem(await execute(app(), 'calculator', { arguments: { expression: '1 / (2 - 2)' } }), 422)
    assert.equal(zero.detail, 'Division by zero')
  })

  it('answers 404 for an unknown tool and 400 for a body without valid arguments', async () => {
    const unknown = await problem(await execute(app(), 'teleport', { arguments: {} }), 404)
    assert.match(unknown.detail, /teleport/)
    const missing = await problem(await execute(app(), 'calculator', { arguments: {} }), 400)
    assert.deepEqual(missing.errors.map((error: { path: string }) => error.path), ['expression'])
    const notObject = await problem(await execute(app(), 'calculator', { arguments: 'expression=1' }), 400)
    assert.deepEqual(notObject.errors.map((error: { path: string }) => error.path), ['arguments'])
    const notJson = await app().request('/api/v1/tools/calculator/execute', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })
    await problem(notJson, 400)
  })

  it('tells the current time in UTC and in a given IANA zone', async () => {
    const utc = await (await execute(app(), 'current_time', {})).json()
    assert.deepEqual(utc.result, { timezone: 'UTC', utc: '2026-03-01T12:34:56.000Z', local: '2026-03-01 12:34:56', utc_offset: '+00:00', unix_ms: NOW })
    const kolkata = await (await execute(app(), 'current_time', { arguments: { timezone: 'Asia/Kolkata' } })).json()
    assert.equal(kolkata.result.local, '2026-03-01 18:04:56')
    assert.equal(kolkata.result.utc_offset, '+05:30')
  })

  it('answers 400 naming timezone for an unknown zone', async () => {
    const body = await problem(await execute(app(), 'current_time', { arguments: { timezone: 'Mars/Olympus_Mons' } }), 400)
    assert.deepEqual(body.errors.map((error: { path: string }) => error.path), ['timezone'])
    assert.match(body.errors[0].message, /IANA/)
  })

  it("stores and searches the caller's own memory only", async () => {
    const target = app()
    const stored = await (await execute(target, 'memory_store', { arguments: { content: 'Alice prefers tabs', tags: ['style'] } })).json()
    assert.equal(stored.result.content, 'Alice prefers tabs')
    assert.deepEqual(stored.result.tags, ['style'])
    assert.equal(stored.result.created_at, '2023-11-14T22:13:20.000Z')

    const found = await (await execute(target, 'memory_search', { arguments: { query: 'tabs' } })).json()
    assert.equal(found.result.items.length, 1)
    assert.equal(found.result.items[0].content, 'Alice prefers tabs')

    const bob = await (await execute(target, 'memory_search', { arguments: { query: 'tabs' } }, 'bob')).json()
    assert.deepEqual(bob.result.items, [])
  })

  it('validates memory arguments', async () => {
    const body = await problem(await execute(app(), 'memory_search', { arguments: { query: '  ', limit: 500 } }), 400)
    assert.deepEqual(body.errors.map((error: { path: string }) => error.path).sort(), ['limit', 'query'])
  })
})
