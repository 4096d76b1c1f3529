import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ManualClock } from '../../kernel/clock.ts'
import { HttpProblem } from '../../kernel/problem.ts'
import { createInMemoryJobManager, eventData, type JobEvent } from './jobs.ts'

describe('in-memory job manager', () => {
  it('numbers events 1, 2, 3 and replays from any cursor before going live', () => {
    const jobs = createInMemoryJobManager()
    const job = jobs.create({ userId: 'u', conversationId: 'c' })
    job.appendText('a')
    job.appendText('b')
    const seen: JobEvent[] = []
    const detach = job.subscribe(1, (event) => seen.push(event))
    job.appendText('c')
    detach()
    job.appendText('d')
    assert.deepEqual(seen.map((e) => e.seq), [2, 3])
    assert.deepEqual(job.events.map((e) => e.seq), [1, 2, 3, 4])
  })

  it('stores a text delta as one object whose wire data is { delta }', () => {
    const job = createInMemoryJobManager().create({ userId: 'u', conversationId: 'c' })
    job.appendText('hi')
    job.append('tool_call', { id: 't' })
    assert.deepEqual(job.events, [
      { seq: 1, type: 'message', delta: 'hi' },
      { seq: 2, type: 'tool_call', data: { id: 't' } },
    ])
    assert.deepEqual(job.events.map(eventData), [{ delta: 'hi' }, { id: 't' }])
  })

  it('allows one running job per conversation', async () => {
    const jobs = createInMemoryJobManager()
    const job = jobs.create({ userId: 'u', conversationId: 'c' })
    assert.throws(() => jobs.create({ userId: 'u', conversationId: 'c' }), (error: unknown) => error instanceof HttpProblem && error.status === 409)
    jobs.create({ userId: 'u', conversationId: 'other' })
    job.finish('complete', 'done', {})
    await job.finished
    const next = jobs.create({ userId: 'u', conversationId: 'c' })
    assert.equal(jobs.latest('c'), next)
  })

  it('clears listeners on finish and refuses appends afterwards', () => {
    const jobs = createInMemoryJobManager()
    const job = jobs.create({ userId: 'u', conversationId: 'c' })
    job.subscribe(0, () => {})
    assert.equal(jobs.stats().listeners, 1)
    job.finish('complete', 'done', {})
    assert.deepEqual(jobs.stats(), { jobs: 1, running: 0, listeners: 0 })
    assert.throws(() => job.appendText('late'))
    const replay: number[] = []
    const detach = job.subscribe(0, (e) => replay.push(e.seq))
    assert.deepEqual(replay, [1])
    detach()
  })

  it('stop aborts the signal once, with its reason', () => {
    const jobs = createInMemoryJobManager()
    const job = jobs.create({ userId: 'u', conversationId: 'c' })
    assert.equal(job.stop(), true)
    assert.equal(job.stop(), false)
    assert.equal(job.signal.aborted, true)
    assert.equal(job.stopReason, 'stopped')
  })

  it('drops finished jobs once their retention has passed', async () => {
    const clock = new ManualClock()
    const jobs = createInMemoryJobManager({ retentionMs: 100, clock })
    const job = jobs.create({ userId: 'u', conversationId: 'c' })
    job.finish('complete', 'done', {})
    await clock.advance(100 - 1)
    assert.equal(jobs.latest('c'), job)
    await clock.advance(1)
    assert.equal(jobs.latest('c'), undefined)
    assert.deepEqual(jobs.stats(), { jobs: 0, running: 0, listeners: 0 })
  })

  it('close stops running jobs and forgets everything', () => {
    const jobs = createInMemoryJobManager()
    const job = jobs.create({ userId: 'u', conversationId: 'c' })
    jobs.close()
    assert.equal(job.signal.aborted, true)
    assert.deepEqual(jobs.stats(), { jobs: 0, running: 0, listeners: 0 })
  })
})
