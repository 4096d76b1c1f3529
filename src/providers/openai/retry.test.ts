import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ManualClock } from '../../kernel/clock.ts'
import { ProviderError } from '../ports.ts'
import { backoffMs, RetryableError, withRetries, type RetryPolicy } from './retry.ts'

const busy = (retryAfterMs?: number) => new RetryableError(new ProviderError('unavailable', 'busy'), retryAfterMs)

/** Each attempt runs the next script: a list of events, then an optional failure. */
function attempts(scripts: { events: string[]; fail?: Error }[]) {
  let calls = 0
  const attempt = async function* () {
    const script = scripts[Math.min(calls++, scripts.length - 1)]
    yield* script.events
    if (script.fail) throw script.fail
  }
  return { attempt, calls: () => calls }
}

async function collect(events: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const event of events) out.push(event)
  return out
}

const policy = (clock: ManualClock, overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({
  maxRetries: 2,
  retryBaseMs: 500,
  maxRetryAfterMs: 30_000,
  random: () => 0.5,
  clock,
  ...overrides,
})

describe('withRetries', () => {
  it('retries a failure before the first event after the backoff, on the clock', async () => {
    const clock = new ManualClock()
    const { attempt, calls } = attempts([{ events: [], fail: busy() }, { events: ['a', 'b'] }])
    const pending = collect(withRetries(attempt, new AbortController().signal, policy(clock)))
    await clock.advance(0)
    assert.equal(calls(), 1)
    // attempt 0: ceiling 500 ms, half fixed + half jittered (0.5) = 375 ms.
    await clock.advance(374)
    assert.equal(calls(), 1)
    await clock.advance(1)
    assert.deepEqual(await pending, ['a', 'b'])
    assert.equal(calls(), 2)
  })

  it('never retries once an event went out, nor past maxRetries, nor for a Retry-After over the cap', async () => {
    const clock = new ManualClock()
    const signal = new AbortController().signal
    const late = attempts([{ events: ['a'], fail: busy() }])
    await assert.rejects(collect(withRetries(late.attempt, signal, policy(clock))), { message: 'busy' })
    assert.equal(late.calls(), 1)
    const capped = attempts([{ events: [], fail: busy(60_000) }])
    await assert.rejects(collect(withRetries(capped.attempt, signal, policy(clock))), ProviderError)
    assert.equal(capped.calls(), 1)
    const always = attempts([{ events: [], fail: busy(0) }])
    await assert.rejects(collect(withRetries(always.attempt, signal, policy(clock))), ProviderError)
    assert.equal(always.calls(), 3, 'the first attempt and two retries')
  })

  it('ends with an AbortError when the signal aborts during the wait, leaving no timer', async () => {
    const clock = new ManualClock()
    const controller = new AbortController()
    const { attempt } = attempts([{ events: [], fail: busy(5_000) }])
    const pending = collect(withRetries(attempt, controller.signal, policy(clock)))
    await clock.advance(0)
    assert.equal(clock.pending, 1)
    controller.abort()
    await assert.rejects(pending, { name: 'AbortError' })
    assert.equal(clock.pending, 0)
  })

  it('backs off exponentially with jitter, capped at 8 s, and takes Retry-After as given', () => {
    const steps = [0, 1, 2, 10].map((attempt) => backoffMs(attempt, undefined, { retryBaseMs: 500, random: () => 0 }))
    assert.deepEqual(steps, [250, 500, 1_000, 4_000])
    assert.equal(backoffMs(10, undefined, { retryBaseMs: 500, random: () => 0.999 }), 7_996)
    assert.equal(backoffMs(0, 2_000, { retryBaseMs: 500, random: () => 0.5 }), 2_000)
  })
})
