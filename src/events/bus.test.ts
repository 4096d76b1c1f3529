import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EventBus } from './bus.ts'

type Topics = { a: { n: number }; b: string }

describe('EventBus', () => {
  it('delivers to the topic’s listeners in order and not to other topics', () => {
    const bus = new EventBus<Topics>()
    const seen: string[] = []
    bus.subscribe('a', (e) => seen.push(`1:${e.n}`))
    bus.subscribe('a', (e) => seen.push(`2:${e.n}`))
    bus.subscribe('b', (e) => seen.push(`b:${e}`))
    bus.publish('a', { n: 7 })
    assert.deepEqual(seen, ['1:7', '2:7'])
  })

  it('unsubscribe removes exactly one subscription and leaves no empty topic behind', () => {
    const bus = new EventBus<Topics>()
    let calls = 0
    const listener = () => void calls++
    const first = bus.subscribe('a', listener)
    const second = bus.subscribe('a', listener)
    bus.publish('a', { n: 1 })
    first()
    first()
    bus.publish('a', { n: 2 })
    assert.equal(calls, 3)
    second()
    assert.equal(bus.listenerCount(), 0)
    assert.equal(bus.listenerCount('a'), 0)
  })

  it('a throwing listener does not stop the others and is reported', () => {
    const errors: string[] = []
    const bus = new EventBus<Topics>({ onListenerError: (_error, topic) => errors.push(topic) })
    let delivered = false
    bus.subscribe('b', () => {
      throw new Error('boom')
    })
    bus.subscribe('b', () => void (delivered = true))
    bus.publish('b', 'x')
    assert.equal(delivered, true)
    assert.deepEqual(errors, ['b'])
  })

  it('1,000 subscribe/unsubscribe cycles leave nothing behind', () => {
    const bus = new EventBus<Topics>()
    for (let i = 0; i < 1000; i++) bus.subscribe(i % 2 ? 'a' : 'b', () => {})()
    assert.equal(bus.listenerCount(), 0)
  })
})
