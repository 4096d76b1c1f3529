import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { as, assertProblem, call, jsonBody, type TargetRef } from './client.ts'

/** `/api/v1/memory`: store, ranked search, list, delete, per-user isolation. */
export function memoryChecks(target: TargetRef): void {
  describe('/api/v1/memory', () => {
    it('stores, searches best first, lists and deletes', async () => {
      const { alice, bob } = target().users
      const store = async (content: string, tags: string[]) => {
        const res = await call(target(), '/api/v1/memory/store', as(alice.key, jsonBody({ content, tags })))
        assert.equal(res.status, 201, res.text)
        const body = res.json()
        assert.equal(body.content, content)
        assert.deepEqual(body.tags, tags)
        assert.equal(res.headers.get('location'), `/api/v1/memory/${encodeURIComponent(body.id)}`)
        return body.id as string
      }
      const both = await store('The e2e zebra has black and white stripes', ['animals'])
      const one = await store('A zebra crossing sits outside the e2e school', ['roads'])
      const neither = await store('Postgres vacuum settings for the e2e cluster', ['db'])

      const search = await call(target(), '/api/v1/memory/search', as(alice.key, jsonBody({ query: 'zebra stripes' })))
      assert.equal(search.status, 200, search.text)
      const results = search.json().results as { id: string; score: number }[]
      assert.deepEqual(results.map((r) => r.id), [both, one], 'both words outrank one; no match is absent')
      assert.ok(results[0].score > results[1].score)

      const bobSearch = await call(target(), '/api/v1/memory/search', as(bob.key, jsonBody({ query: 'zebra stripes' })))
      assert.deepEqual(bobSearch.json().results, [], "Bob does not see Alice's memory")

      const list = await call(target(), '/api/v1/memory?limit=100', as(alice.key))
      assert.equal(list.status, 200)
      const listed = list.json().data.map((item: { id: string }) => item.id)
      for (const id of [both, one, neither]) assert.ok(listed.includes(id), `${id} is listed`)
      assert.ok(listed.indexOf(neither) < listed.indexOf(both), 'newest first')

      assertProblem(await call(target(), `/api/v1/memory/${neither}`, as(bob.key, { method: 'DELETE' })), 404)
      assert.equal((await call(target(), `/api/v1/memory/${neither}`, as(alice.key, { method: 'DELETE' }))).status, 204)
      assertProblem(await call(target(), `/api/v1/memory/${neither}`, as(alice.key, { method: 'DELETE' })), 404)
      const after = await call(target(), '/api/v1/memory?limit=100', as(alice.key))
      assert.equal(after.json().data.some((item: { id: string }) => item.id === neither), false)
    })

    it('blank content is a 400 naming content', async () => {
      const res = await call(target(), '/api/v1/memory/store', as(target().users.alice.key, jsonBody({ content: '   ' })))
      const body = assertProblem(res, 400)
      assert.ok(JSON.stringify(body).includes('content'))
    })
  })
}
