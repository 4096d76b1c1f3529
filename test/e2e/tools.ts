import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { as, assertProblem, call, jsonBody, type TargetRef } from './client.ts'

/** `/api/v1/tools`: the catalogue and direct execution. */
export function toolChecks(target: TargetRef): void {
  describe('/api/v1/tools', () => {
    it('lists the built-in tools with JSON Schema parameters', async () => {
      const res = await call(target(), '/api/v1/tools', as(target().users.alice.key))
      assert.equal(res.status, 200)
      const names = res.json().tools.map((tool: { name: string }) => tool.name)
      for (const name of ['calculator', 'current_time', 'memory_search', 'memory_store']) assert.ok(names.includes(name), `${name} is offered`)
      const calculator = res.json().tools.find((tool: { name: string }) => tool.name === 'calculator')
      assert.equal(calculator.parameters.type, 'object')
      assert.deepEqual(calculator.parameters.required, ['expression'])
    })

    it('runs the calculator', async () => {
      const res = await call(target(), '/api/v1/tools/calculator/execute', as(target().users.alice.key, jsonBody({ arguments: { expression: '(2 + 3) * 4' } })))
      assert.equal(res.status, 200, res.text)
      assert.deepEqual(res.json().result, { expression: '(2 + 3) * 4', result: 20 })
    })

    it('an unknown tool is a 404 problem', async () => {
      const res = await call(target(), '/api/v1/tools/teleport/execute', as(target().users.alice.key, jsonBody({ arguments: {} })))
      assertProblem(res, 404)
    })

    it('bad arguments are a 400 problem naming the field', async () => {
      const res = await call(target(), '/api/v1/tools/calculator/execute', as(target().users.alice.key, jsonBody({ arguments: { expression: 42 } })))
      const body = assertProblem(res, 400)
      assert.deepEqual((body.errors as { path: string }[]).map((error) => error.path), ['expression'])
    })

    it('needs an API key', async () => {
      assertProblem(await call(target(), '/api/v1/tools'), 401)
    })
  })
}
