import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AUTH, testApp } from '../../../test/helpers/app.ts'

describe('tools in the whole app', () => {
  it('lists the built-in tools and runs the calculator behind authentication', async () => {
    const { app } = await testApp()
    assert.equal((await app.request('/api/v1/tools')).status, 401)
    const list = await app.request('/api/v1/tools', { headers: AUTH.alice })
    const names = (await list.json()).tools.map((tool: { name: string }) => tool.name)
    assert.deepEqual(names.sort(), ['calculator', 'current_time', 'memory_search', 'memory_store'])
    const res = await app.request('/api/v1/tools/calculator/execute', {
      method: 'POST',
      headers: { ...AUTH.alice, 'content-type': 'application/json' },
      body: JSON.stringify({ arguments: { expression: '2 + 3 * (4 - 1) ^ 2' } }),
    })
    assert.equal(res.status, 200)
    const body = await res.json()
    assert.deepEqual(body.result, { expression: '2 + 3 * (4 - 1) ^ 2', result: 29 })
    assert.equal(typeof body.duration_ms, 'number')
  })
})
