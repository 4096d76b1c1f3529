import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ManualClock } from '../../kernel/clock.ts'
import { HttpProblem } from '../../kernel/problem.ts'
import { MemoryBucketStore } from '../../middleware/rate-limit/index.ts'
import { createAdmission } from './admission.ts'

const refusal = async (promise: Promise<unknown>) => {
  const error = await promise.then(() => assert.fail('admitted'), (error: unknown) => error)
  assert.ok(error instanceof HttpProblem)
  return error
}

describe('chat admission', () => {
  it('refuses blank and over-long messages with a 400 naming the reason', () => {
    const admission = createAdmission({ maxMessageChars: 5, maxActivePerUser: 0 })
    admission.checkMessage('hello')
    for (const [message, reason] of [['  \n ', /must not be empty/], ['123456', /longer than 5 characters/]] as const) {
      assert.throws(
        () => admission.checkMessage(message),
        (error: unknown) => error instanceof HttpProblem && error.status === 400 && reason.test(JSON.stringify(error.extensions)),
      )
    }
  })

  it('caps running generations per user, frees a slot on release, and leaves other users alone', async () => {
    const admission = createAdmission({ maxMessageChars: 100, maxActivePerUser: 2 })
    const first = await admission.admit('alice')
    await admission.admit('alice')
    const refused = await refusal(admission.admit('alice'))
    assert.equal(refused.status, 429)
    assert.equal(refused.headers?.['retry-after'], '1')
    await admission.admit('bob')
    first()
    first()
    assert.equal(admission.active('alice'), 1, 'a second release of the same slot does nothing')
    await admission.admit('alice')
    assert.equal(admission.active('alice'), 2)
  })

  it('counts a racing pair of starts once each, never past the cap', async () => {
    const clock = new ManualClock()
    const starts = { store: new MemoryBucketStore({ clock }), spec: { capacity: 100, refillPerSecond: 1 } }
    const admission = createAdmission({ maxMessageChars: 100, maxActivePerUser: 1, starts })
    const outcomes = await Promise.allSettled([admission.admit('alice'), admission.admit('alice')])
    assert.deepEqual(outcomes.map((outcome) => outcome.status).sort(), ['fulfilled', 'rejected'])
    assert.equal(admission.active('alice'), 1)
  })

  it('spends the start budget per user and refills it with time', async () => {
    const clock = new ManualClock()
    const starts = { store: new MemoryBucketStore({ clock }), spec: { capacity: 2, refillPerSecond: 0.5 } }
    const admission = createAdmission({ maxMessageChars: 100, maxActivePerUser: 0, starts })
    ;(await admission.admit('alice'))()
    ;(await admission.admit('alice'))()
    const refused = await refusal(admission.admit('alice'))
    assert.equal(refused.status, 429)
    assert.equal(refused.headers?.['retry-after'], '2')
    await admission.admit('bob')
    await clock.advance(2000)
    await admission.admit('alice')
  })
})
