import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SortedList } from './sorted-list.ts'

const newestFirst = (a: { t: number; id: string }, b: { t: number; id: string }) => b.t - a.t || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)

describe('SortedList', () => {
  it('keeps list order whatever the insert order, and pages strictly after a position', () => {
    const list = new SortedList(newestFirst)
    const items = [
      { t: 1, id: 'a' }, { t: 3, id: 'b' }, { t: 2, id: 'c' }, { t: 3, id: 'a' }, { t: 2, id: 'z' }, { t: 0, id: 'q' },
    ]
    for (const item of items) list.insert(item)
    const order = ['3b', '3a', '2z', '2c', '1a', '0q']
    const keys = (page: { t: number; id: string }[]) => page.map((item) => `${item.t}${item.id}`)
    assert.deepEqual(keys(list.page(10)), order)
    assert.deepEqual(keys(list.page(2)), order.slice(0, 2))
    assert.deepEqual(keys(list.page(2, { t: 3, id: 'a' })), ['2z', '2c'])
    assert.deepEqual(keys(list.page(5, { t: 2, id: 'm' })), ['2c', '1a', '0q'], 'a position between items')
    assert.deepEqual(list.page(5, { t: 0, id: 'q' }), [])
    assert.equal(list.remove({ t: 2, id: 'z' }), true)
    assert.equal(list.remove({ t: 2, id: 'z' }), false)
    assert.equal(list.remove({ t: 9, id: 'none' }), false)
    assert.deepEqual(keys(list.page(10)), ['3b', '3a', '2c', '1a', '0q'])
    assert.equal(list.size, 5)
  })
})
