import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AUTH, testApp } from '../../../test/helpers/app.ts'
import { failingStores } from '../../../test/storage/failing-stores.ts'

const JSON_HEADERS = { 'content-type': 'application/json' }

async function setup() {
  const { app } = await testApp()
  const request = (path: string, init: RequestInit & { as?: keyof typeof AUTH } = {}) => {
    const { as = 'alice', headers, ...rest } = init
    return app.request(`/api/v1${path}`, { ...rest, headers: { ...AUTH[as], ...JSON_HEADERS, ...(headers as Record<string, string>) } })
  }
  const store = async (body: unknown, as: keyof typeof AUTH = 'alice') => {
    const res = await request('/memory/store', { method: 'POST', body: JSON.stringify(body), as })
    assert.equal(res.status, 201)
    return { res, body: (await res.json()) as Record<string, any> }
  }
  const search = async (body: unknown, as: keyof typeof AUTH = 'alice') => {
    const res = await request('/memory/search', { method: 'POST', body: JSON.stringify(body), as })
    assert.equal(res.status, 200)
    return ((await res.json()) as { results: Record<string, any>[] }).results
  }
  return { request, store, search }
}

async function expectProblem(res: Response, status: number, field?: string) {
  assert.equal(res.status, status)
  assert.equal(res.headers.get('content-type'), 'application/problem+json')
  const body = (await res.json()) as Record<string, any>
  assert.ok(body.request_id)
  if (field) assert.ok(body.errors.some((error: { path: string }) => error.path === field), `errors name ${field}: ${JSON.stringify(body.errors)}`)
  return body
}

describe('POST /api/v1/memory/store', () => {
  it('stores with 201, Location and the snake_case body', async () => {
    const { store } = await setup()
    const { res, body } = await store({ content: 'Prefers tabs over spaces', tags: ['style'], metadata: { source: 'chat' } })
    assert.equal(res.headers.get('location'), `/api/v1/memory/${body.id}`)
    assert.deepEqual(Object.keys(body).sort(), ['content', 'created_at', 'id', 'metadata', 'tags'])
    assert.deepEqual(body.tags, ['style'])
    assert.deepEqual(body.metadata, { source: 'chat' })
    assert.equal(new Date(body.created_at).toISOString(), body.created_at)
  })

  it('answers 400 naming the field for empty or oversized content, too many tags and bad metadata', async () => {
    const { request, store } = await setup()
    const post = (body: unknown) => request('/memory/store', { method: 'POST', body: JSON.stringify(body) })
    await expectProblem(await post({}), 400, 'content')
    await expectProblem(await post({ content: '' }), 400, 'content')
    await expectProblem(await post({ content: '   ' }), 400, 'content')
    await expectProblem(await post({ content: 'é'.repeat(16_385) }), 400, 'content') // 32 770 bytes
    await store({ content: 'x'.repeat(32 * 1024) })
    await expectProblem(await post({ content: 'ok', tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }), 400, 'tags')
    await expectProblem(await post({ content: 'ok', tags: [''] }), 400, 'tags.0')
    await expectProblem(await post({ content: 'ok', metadata: { big: 'x'.repeat(17_000) } }), 400, 'metadata')
    await expectProblem(await post({ content: 'ok', user_id: 'bob' }), 400)
  })
})

describe('POST /api/v1/memory/search', () => {
  it('ranks best first, leaves out unrelated items and filters by every tag', async () => {
    const { store, search, request } = await setup()
    const focused = (await store({ content: 'postgres vacuum tuning: postgres autovacuum thresholds', tags: ['db', 'ops'] })).body
    const passing = (await store({ content: 'team lunch notes, holiday plans, and a postgres mention', tags: ['db'] })).body
    await store({ content: 'favourite hiking trails', tags: ['db', 'ops'] })
    const results = await search({ query: 'Postgres' })
    assert.deepEqual(results.map((r) => r.id), [focused.id, passing.id])
    assert.ok(results[0].score > results[1].score)
    assert.deepEqual(Object.keys(results[0]).sort(), ['content', 'created_at', 'id', 'metadata', 'score', 'tags'])
    assert.deepEqual((await search({ query: 'postgres', tags: ['db', 'ops'] })).map((r) => r.id), [focused.id])
    assert.deepEqual((await search({ query: 'postgres', limit: 1 })).map((r) => r.id), [focused.id])
    assert.deepEqual(await search({ query: 'kubernetes' }), [])
    await expectProblem(await request('/memory/search', { method: 'POST', body: '{"query":""}' }), 400, 'query')
    await expectProblem(await request('/memory/search', { method: 'POST', body: '{"query":"x","limit":0}' }), 400, 'limit')
  })
})

describe('GET /api/v1/memory and DELETE /api/v1/memory/:id', () => {
  it('lists across pages with no duplicates or gaps, then deletes', async () => {
    const { store, request, search } = await setup()
    const ids: string[] = []
    for (let i = 0; i < 7; i++) ids.push((await store({ content: `note ${i} about walruses` })).body.id)
    const seen: string[] = []
    let cursor: string | null = null
    for (let round = 0; round < 10; round++) {
      const res = await request(`/memory?limit=3${cursor ? `&cursor=${cursor}` : ''}`)
      assert.equal(res.status, 200)
      const page = (await res.json()) as { data: { id: string }[]; next_cursor: string | null }
      seen.push(...page.data.map((item) => item.id))
      cursor = page.next_cursor
      if (!cursor) break
    }
    assert.equal(seen.length, 7)
    assert.deepEqual(new Set(seen), new Set(ids))
    await expectProblem(await request('/memory?cursor=zzz'), 400, 'cursor')
    await expectProblem(await request('/memory?limit=1000'), 400, 'limit')

    const res = await request(`/memory/${ids[0]}`, { method: 'DELETE' })
    assert.equal(res.status, 204)
    await expectProblem(await request(`/memory/${ids[0]}`, { method: 'DELETE' }), 404)
    await expectProblem(await request('/memory/not%20an%20id', { method: 'DELETE' }), 404)
    assert.ok(!(await search({ query: 'walruses', limit: 50 })).some((r) => r.id === ids[0]))
  })
})

describe('memory isolation between API keys', () => {
  it('never shows or deletes another user’s items', async () => {
    const { store, search, request } = await setup()
    const secret = (await store({ content: 'alice secret launch codename', tags: ['private'] })).body
    assert.deepEqual(await search({ query: 'secret launch codename' }, 'bob'), [])
    const listed = (await (await request('/memory', { as: 'bob' })).json()) as { data: unknown[] }
    assert.deepEqual(listed.data, [])
    await expectProblem(await request(`/memory/${secret.id}`, { method: 'DELETE', as: 'bob' }), 404)
    assert.deepEqual((await search({ query: 'codename' })).map((r) => r.id), [secret.id])
  })
})

describe('memory when the store is unreachable', () => {
  it('answers 503 with Retry-After and reports nothing as saved', async () => {
    const { app } = await testApp({ deps: { stores: failingStores() } })
    const calls: [string, string, string?][] = [
      ['POST', '/api/v1/memory/store', '{"content":"keep me"}'],
      ['POST', '/api/v1/memory/search', '{"query":"keep"}'],
      ['GET', '/api/v1/memory'],
      ['DELETE', '/api/v1/memory/abc'],
    ]
    for (const [method, path, body] of calls) {
      const res = await app.request(path, { method, body, headers: { ...AUTH.alice, ...JSON_HEADERS } })
      const problem = await expectProblem(res, 503)
      assert.equal(res.headers.get('retry-after'), '5')
      assert.equal(res.headers.get('location'), null)
      assert.doesNotMatch(JSON.stringify(problem), /injected|refused/)
    }
  })
})

describe('Idempotency-Key on POST /api/v1/memory/store', () => {
  it('stores once for a repeated key and answers the repeat with the first item', async () => {
    const { request } = await setup()
    const post = (content: string) =>
      request('/memory/store', { method: 'POST', body: JSON.stringify({ content }), headers: { 'idempotency-key': 'store-1' } })
    const first = await post('remember the milk')
    assert.equal(first.status, 201)
    const body = await first.json()
    assert.deepEqual(await (await post('remember the milk again')).json(), body)
    const listed = (await (await request('/memory')).json()) as { data: unknown[] }
    assert.equal(listed.data.length, 1)
  })
})
