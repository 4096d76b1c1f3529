import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cloneData } from './clone.ts'

describe('cloneData', () => {
  it('deep-copies plain data like structuredClone', () => {
    const values: unknown[] = [{}, { a: 1, b: 'x', c: null, d: undefined, e: [1, { f: [true] }] }, [], 'text', 3, null]
    for (const value of values) {
      const copy = cloneData(value)
      assert.deepEqual(copy, structuredClone(value))
      if (value && typeof value === 'object') assert.notEqual(copy, value)
    }
    const nested = { inner: { list: [{ x: 1 }] } }
    const copy = cloneData(nested)
    copy.inner.list[0].x = 2
    assert.equal(nested.inner.list[0].x, 1, 'nothing is shared')
  })

  it('leaves other values to structuredClone', () => {
    const date = new Date(5)
    const copied = cloneData({ when: date, map: new Map([[1, 2]]) })
    assert.ok(copied.when instanceof Date && copied.when !== date && copied.when.getTime() === 5)
    assert.deepEqual([...copied.map], [[1, 2]])
    const cyclic: Record<string, unknown> = { name: 'loop' }
    cyclic.self = cyclic
    const clone = cloneData(cyclic)
    assert.equal(clone.self, clone)
    assert.throws(() => cloneData({ fn: () => 1 }), { name: 'DataCloneError' })
  })
})
