import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { as, assertProblem, call, jsonBody, type TargetRef } from './client.ts'

/** `/api/v1/conversations`: create, list in pages, read, conditional update, delete, per-user isolation. */
export function conversationChecks(target: TargetRef): void {
  describe('/api/v1/conversations', () => {
    it('creates one: 201 with Location, ETag and the conversation', async () => {
      const { alice } = target().users
      const res = await call(target(), '/api/v1/conversations', as(alice.key, jsonBody({ title: 'e2e create', metadata: { from: 'e2e' } })))
      assert.equal(res.status, 201, res.text)
      const body = res.json()
      assert.equal(typeof body.id, 'string')
      assert.equal(body.title, 'e2e create')
      assert.deepEqual(body.metadata, { from: 'e2e' })
      assert.equal(body.message_count, 0)
      assert.equal(res.headers.get('location'), `/api/v1/conversations/${encodeURIComponent(body.id)}`)
      assert.match(res.headers.get('etag') ?? '', /^"[^"]+"$/)
      const shown = await call(target(), res.headers.get('location')!, as(alice.key))
      assert.equal(shown.status, 200)
      assert.equal(shown.json().id, body.id)
      assert.deepEqual(shown.json().messages, [])
    })

    it('lists in pages, newest first, following next_cursor without repeats', async () => {
      // Bob's list holds only what this test creates (the chat areas use Alice).
      const { bob } = target().users
      const created: string[] = []
      for (let i = 0; i < 3; i++) {
        const res = await call(target(), '/api/v1/conversations', as(bob.key, jsonBody({ title: `page ${i}` })))
        assert.equal(res.status, 201)
        created.push(res.json().id)
      }
      const seen: string[] = []
      let cursor: string | null = null
      for (let page = 0; page < 10; page++) {
        const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2'
        const res = await call(target(), `/api/v1/conversations${query}`, as(bob.key))
        assert.equal(res.status, 200, res.text)
        const body = res.json()
        assert.ok(body.data.length <= 2)
        seen.push(...body.data.map((c: { id: string }) => c.id))
        cursor = body.next_cursor
        if (!cursor) break
      }
      assert.equal(cursor, null, 'the last page has no next_cursor')
      assert.equal(new Set(seen).size, seen.length, 'no conversation appears twice')
      for (const id of created) assert.ok(seen.includes(id), `${id} is listed`)
      assert.ok(seen.indexOf(created[2]) < seen.indexOf(created[0]), 'newest first')
    })

    it('a bad page size is a 400 naming limit', async () => {
      const res = await call(target(), '/api/v1/conversations?limit=1000', as(target().users.alice.key))
      const body = assertProblem(res, 400)
      assert.ok(JSON.stringify(body).includes('limit'))
    })

    it('updates with If-Match: the current ETag succeeds, a stale one is a 412 problem', async () => {
      const { alice } = target().users
      const created = await call(target(), '/api/v1/conversations', as(alice.key, jsonBody({ title: 'before' })))
      const path = created.headers.get('location')!
      const staleTag = created.headers.get('etag')!
      const updated = await call(target(), path, as(alice.key, { ...jsonBody({ title: 'after' }, 'PUT'), headers: { 'content-type': 'application/json', 'if-match': staleTag } }))
      assert.equal(updated.status, 200, updated.text)
      assert.equal(updated.json().title, 'after')
      assert.notEqual(updated.headers.get('etag'), staleTag)
      const conflict = await call(target(), path, as(alice.key, { ...jsonBody({ title: 'lost update' }, 'PUT'), headers: { 'content-type': 'application/json', 'if-match': staleTag } }))
      assertProblem(conflict, 412)
      assert.equal((await call(target(), path, as(alice.key))).json().title, 'after')
    })

    it('deletes: 204, then 404 problems for read and delete', async () => {
      const { alice } = target().users
      const path = (await call(target(), '/api/v1/conversations', as(alice.key, jsonBody({})))).headers.get('location')!
      const deleted = await call(target(), path, as(alice.key, { method: 'DELETE' }))
      assert.equal(deleted.status, 204)
      assert.equal(deleted.text, '')
      assertProblem(await call(target(), path, as(alice.key)), 404)
      assertProblem(await call(target(), path, as(alice.key, { method: 'DELETE' })), 404)
    })

    it("another user's conversation is a 404 for every verb, and absent from their list", async () => {
      const { alice, bob } = target().users
      const created = await call(target(), '/api/v1/conversations', as(alice.key, jsonBody({ title: 'private' })))
      const path = created.headers.get('location')!
      const id = created.json().id
      assertProblem(await call(target(), path, as(bob.key)), 404)
      assertProblem(await call(target(), path, as(bob.key, jsonBody({ title: 'hijack' }, 'PUT'))), 404)
      assertProblem(await call(target(), path, as(bob.key, { method: 'DELETE' })), 404)
      const list = await call(target(), '/api/v1/conversations?limit=100', as(bob.key))
      assert.equal(list.json().data.some((c: { id: string }) => c.id === id), false)
      assert.equal((await call(target(), path, as(alice.key))).json().title, 'private')
    })
  })
}
