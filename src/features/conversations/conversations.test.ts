import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AUTH, testApp } from '../../../test/helpers/app.ts'
import { failingStores } from '../../../test/storage/failing-stores.ts'
import { metadataSchema } from './schema.ts'

const JSON_HEADERS = { 'content-type': 'application/json' }

async function setup() {
  const { app, deps } = await testApp()
  const request = (path: string, init: RequestInit & { as?: keyof typeof AUTH } = {}) => {
    const { as = 'alice', headers, ...rest } = init
    return app.request(`/api/v1${path}`, { ...rest, headers: { ...AUTH[as], ...JSON_HEADERS, ...(headers as Record<string, string>) } })
  }
  const create = async (body: unknown = {}, as: keyof typeof AUTH = 'alice') => {
    const res = await request('/conversations', { method: 'POST', body: JSON.stringify(body), as })
    assert.equal(res.status, 201)
    return { res, body: (await res.json()) as Record<string, any> }
  }
  return { app, deps, request, create }
}

async function expectProblem(res: Response, status: number, field?: string) {
  assert.equal(res.status, status)
  assert.equal(res.headers.get('content-type'), 'application/problem+json')
  const body = (await res.json()) as Record<string, any>
  assert.equal(body.status, status)
  assert.ok(body.request_id)
  if (field) {
    assert.match(body.detail, new RegExp(field))
    assert.ok(body.errors.some((error: { path: string }) => error.path === field), `errors name ${field}: ${JSON.stringify(body.errors)}`)
  }
  return body
}

describe('POST /api/v1/conversations', () => {
  it('creates with 201, Location, ETag and the snake_case body', async () => {
    const { create, request } = await setup()
    const { res, body } = await create({ title: 'Refactor plan', metadata: { model: 'gpt', tags: ['a'] } })
    assert.equal(res.headers.get('location'), `/api/v1/conversations/${body.id}`)
    assert.equal(res.headers.get('etag'), '"v1"')
    assert.deepEqual(Object.keys(body).sort(), ['created_at', 'id', 'message_count', 'metadata', 'title', 'updated_at'])
    assert.equal(body.title, 'Refactor plan')
    assert.deepEqual(body.metadata, { model: 'gpt', tags: ['a'] })
    assert.equal(body.message_count, 0)
    assert.equal(new Date(body.created_at).toISOString(), body.created_at)
    const read = await request(`/conversations/${body.id}`)
    assert.equal(read.status, 200)
    assert.deepEqual(await read.json(), { ...body, messages: [], messages_next_cursor: null })
  })

  it('accepts an empty body', async () => {
    const { app } = await setup()
    const res = await app.request('/api/v1/conversations', { method: 'POST', headers: AUTH.alice })
    assert.equal(res.status, 201)
    const body = (await res.json()) as Record<string, unknown>
    assert.equal(body.title, null)
    assert.deepEqual(body.metadata, {})
  })

  it('answers 400 naming the field for oversized titles and metadata, unknown fields and non-JSON', async () => {
    const { request } = await setup()
    const post = (body: string) => request('/conversations', { method: 'POST', body })
    await expectProblem(await post(JSON.stringify({ title: 'x'.repeat(201) })), 400, 'title')
    await expectProblem(await post(JSON.stringify({ title: 42 })), 400, 'title')
    await expectProblem(await post(JSON.stringify({ metadata: { a: { b: { c: { d: { e: { f: 1 } } } } } } })), 400, 'metadata')
    await expectProblem(await post(JSON.stringify({ metadata: { blob: 'x'.repeat(17_000) } })), 400, 'metadata')
    await expectProblem(await post(JSON.stringify({ metadata: [1, 2] })), 400, 'metadata')
    await expectProblem(await post(JSON.stringify({ owner: 'bob' })), 400)
    await expectProblem(await post('{not json'), 400)
  })

  it('answers 400 for 5,000 levels of metadata, as JSON and as a value checked by the schema', async () => {
    const { request } = await setup()
    const deep = `{"metadata":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`
    await expectProblem(await request('/conversations', { method: 'POST', body: deep }), 400)
    // Below the parser's own limit the schema must still stop at its limit, not recurse to the end.
    let value: Record<string, unknown> = { leaf: 1 }
    for (let i = 0; i < 5000; i++) value = { a: value }
    const result = metadataSchema.safeParse(value)
    assert.equal(result.success, false)
    assert.match(result.error!.issues[0].message, /deeper than 5 levels/)
  })
})

describe('GET /api/v1/conversations', () => {
  it('pages newest first across pages with no duplicates or gaps', async () => {
    const { create, request } = await setup()
    const ids: string[] = []
    for (let i = 0; i < 23; i++) ids.push((await create({ title: `c${i}` })).body.id)
    const seen: Record<string, any>[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const res = await request(`/conversations?limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      assert.equal(res.status, 200)
      const body = (await res.json()) as { data: Record<string, any>[]; next_cursor: string | null }
      seen.push(...body.data)
      cursor = body.next_cursor
      pages++
    } while (cursor && pages < 10)
    assert.equal(pages, 3)
    assert.equal(seen.length, 23)
    assert.deepEqual(new Set(seen.map((c) => c.id)), new Set(ids))
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1].updated_at >= seen[i].updated_at)
  })

  it('defaults to 20 and validates limit and cursor', async () => {
    const { create, request } = await setup()
    for (let i = 0; i < 21; i++) await create()
    const body = (await (await request('/conversations')).json()) as { data: unknown[]; next_cursor: string | null }
    assert.equal(body.data.length, 20)
    assert.ok(body.next_cursor)
    await expectProblem(await request('/conversations?limit=0'), 400, 'limit')
    await expectProblem(await request('/conversations?limit=101'), 400, 'limit')
    await expectProblem(await request('/conversations?limit=ten'), 400, 'limit')
    await expectProblem(await request('/conversations?cursor=definitely-not-a-cursor'), 400, 'cursor')
  })
})

describe('GET /api/v1/conversations/:id', () => {
  it('returns messages in order, paginated with messages_limit and messages_cursor', async () => {
    const { create, request, deps } = await setup()
    const { body: created } = await create({ title: 'chat' })
    for (let i = 1; i <= 5; i++) {
      await deps.stores.conversations.appendMessage('alice', created.id, {
        role: i % 2 ? 'user' : 'assistant',
        content: `m${i}`,
        ...(i === 2 ? { tokens: 12, status: 'stopped' as const } : {}),
      })
    }
    const first = await request(`/conversations/${created.id}?messages_limit=2`)
    assert.equal(first.status, 200)
    assert.equal(first.headers.get('etag'), '"v6"')
    const page1 = (await first.json()) as Record<string, any>
    assert.equal(page1.message_count, 5)
    assert.deepEqual(page1.messages.map((m: any) => m.content), ['m1', 'm2'])
    assert.deepEqual(Object.keys(page1.messages[1]).sort(), ['content', 'created_at', 'id', 'role', 'status', 'tokens'])
    assert.equal(page1.messages[1].tokens, 12)
    assert.equal(page1.messages[1].status, 'stopped')
    assert.equal('tokens' in page1.messages[0], false)
    const contents = [...page1.messages.map((m: any) => m.content)]
    let cursor = page1.messages_next_cursor
    for (let round = 0; cursor && round < 5; round++) {
      const page = (await (await request(`/conversations/${created.id}?messages_limit=2&messages_cursor=${cursor}`)).json()) as Record<string, any>
      contents.push(...page.messages.map((m: any) => m.content))
      cursor = page.messages_next_cursor
    }
    assert.deepEqual(contents, ['m1', 'm2', 'm3', 'm4', 'm5'])
    await expectProblem(await request(`/conversations/${created.id}?messages_cursor=bogus`), 400, 'messages_cursor')
    await expectProblem(await request(`/conversations/${created.id}?messages_limit=500`), 400, 'messages_limit')
  })

  it('answers 404 for missing and malformed ids', async () => {
    const { request } = await setup()
    await expectProblem(await request('/conversations/does-not-exist'), 404)
    await expectProblem(await request('/conversations/%24where%20x'), 404)
    await expectProblem(await request(`/conversations/${'a'.repeat(300)}`), 404)
  })
})

describe('PUT /api/v1/conversations/:id', () => {
  it('updates with a fresh ETag and answers 412 to a stale If-Match', async () => {
    const { create, request } = await setup()
    const { res, body } = await create({ title: 'old' })
    const etag = res.headers.get('etag')!
    const put = (payload: unknown, headers: Record<string, string> = {}) =>
      request(`/conversations/${body.id}`, { method: 'PUT', body: JSON.stringify(payload), headers })

    const updated = await put({ title: 'new', metadata: { pinned: true } }, { 'if-match': etag })
    assert.equal(updated.status, 200)
    const newTag = updated.headers.get('etag')!
    assert.notEqual(newTag, etag)
    const after = (await updated.json()) as Record<string, any>
    assert.equal(after.title, 'new')
    assert.deepEqual(after.metadata, { pinned: true })
    assert.ok(after.updated_at > body.updated_at || after.updated_at === body.updated_at)

    await expectProblem(await put({ title: 'lost update' }, { 'if-match': etag }), 412)
    await expectProblem(await put({ title: 'weak' }, { 'if-match': `W/${newTag}` }), 412)
    assert.equal(((await (await request(`/conversations/${body.id}`)).json()) as Record<string, any>).title, 'new')
    assert.equal((await put({ title: 'listed' }, { 'if-match': `"v99", ${newTag}` })).status, 200)
    assert.equal((await put({ title: 'any' }, { 'if-match': '*' })).status, 200)
    assert.equal((await put({ title: null })).status, 200, 'If-Match is optional')
    await expectProblem(await put({ title: 'x'.repeat(500) }), 400, 'title')
    await expectProblem(await request('/conversations/nope', { method: 'PUT', body: '{}', headers: { 'if-match': '*' } }), 404)
  })
})

describe('DELETE /api/v1/conversations/:id', () => {
  it('answers 204, then the conversation is gone', async () => {
    const { create, request } = await setup()
    const { body } = await create()
    const res = await request(`/conversations/${body.id}`, { method: 'DELETE' })
    assert.equal(res.status, 204)
    assert.equal(await res.text(), '')
    await expectProblem(await request(`/conversations/${body.id}`), 404)
    await expectProblem(await request(`/conversations/${body.id}`, { method: 'DELETE' }), 404)
  })
})

describe('conversation isolation between API keys', () => {
  it('shows bob a 404 for alice’s conversation, identical to a missing one', async () => {
    const { create, request } = await setup()
    const { body } = await create({ title: 'alice only' })
    const missing = await expectProblem(await request('/conversations/missing-id', { as: 'bob' }), 404)
    for (const [method, payload] of [['GET'], ['PUT', '{"title":"mine"}'], ['DELETE']] as const) {
      const res = await request(`/conversations/${body.id}`, { method, body: payload, as: 'bob' })
      const problem = await expectProblem(res, 404)
      assert.equal(problem.detail, missing.detail)
    }
    const listed = (await (await request('/conversations', { as: 'bob' })).json()) as { data: unknown[] }
    assert.deepEqual(listed.data, [])
    const mine = (await (await request(`/conversations/${body.id}`)).json()) as Record<string, any>
    assert.equal(mine.title, 'alice only')
  })
})

describe('conversations when the store is unreachable', () => {
  it('answers 503 with Retry-After and reports nothing as saved', async () => {
    const stores = failingStores()
    const { app } = await testApp({ deps: { stores } })
    const calls: [string, string, string?][] = [
      ['POST', '/api/v1/conversations', '{"title":"t"}'],
      ['GET', '/api/v1/conversations'],
      ['GET', '/api/v1/conversations/abc'],
      ['PUT', '/api/v1/conversations/abc', '{"title":"t"}'],
      ['DELETE', '/api/v1/conversations/abc'],
    ]
    for (const [method, path, body] of calls) {
      const res = await app.request(path, { method, body, headers: { ...AUTH.alice, ...JSON_HEADERS } })
      const problem = await expectProblem(res, 503)
      assert.equal(res.headers.get('retry-after'), '5')
      assert.equal(res.headers.get('location'), null)
      assert.doesNotMatch(JSON.stringify(problem), /injected|refused/)
    }
    assert.ok(stores.calls.length >= calls.length)
  })
})

describe('Idempotency-Key on creates', () => {
  it('answers a repeat with the conversation the first request made, per user; a malformed key is a 400', async () => {
    const { create, request } = await setup()
    const headers = { 'idempotency-key': '"8e03978e-40d5-43e8-bc93-6894a57f9324"' }
    const post = (body: unknown, as: keyof typeof AUTH = 'alice', extra: Record<string, string> = headers) =>
      request('/conversations', { method: 'POST', body: JSON.stringify(body), as, headers: extra })
    const first = await post({ title: 'once' })
    assert.equal(first.status, 201)
    const firstBody = (await first.json()) as Record<string, any>
    const again = await post({ title: 'twice' })
    assert.equal(again.status, 201)
    assert.deepEqual(await again.json(), firstBody)
    assert.equal(again.headers.get('location'), first.headers.get('location'))
    const bare = await post({}, 'alice', { 'idempotency-key': '8e03978e-40d5-43e8-bc93-6894a57f9324' })
    assert.equal(((await bare.json()) as { id: string }).id, firstBody.id, 'quoted or bare, the same key')
    const bob = (await (await post({ title: 'bob' }, 'bob')).json()) as { id: string }
    assert.notEqual(bob.id, firstBody.id)
    await create({ title: 'no key' })
    const listed = (await (await request('/conversations')).json()) as { data: unknown[] }
    assert.equal(listed.data.length, 2)
    for (const bad of ['', 'x'.repeat(256), 'ünïcode']) {
      await expectProblem(await post({}, 'alice', { 'idempotency-key': bad }), 400, 'Idempotency-Key')
    }
    assert.equal(((await (await request('/conversations')).json()) as { data: unknown[] }).data.length, 2, 'a 400 changes nothing')
  })
})
