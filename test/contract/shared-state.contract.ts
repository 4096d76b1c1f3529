import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { EventBus, PersistenceEvents, SharedEvents } from '../../src/events/index.ts'
import type { JobEvent, JobManager } from '../../src/features/chat/index.ts'
import { HttpProblem } from '../../src/kernel/problem.ts'
import type { BucketStore } from '../../src/middleware/rate-limit/index.ts'
import type { Message } from '../../src/storage/ports.ts'

/**
 * The shared-state adapters seen from two instances, A and B. The in-process adapters are one
 * instance seen twice (A and B are the same object); the Redis adapters are two sets on one server.
 */
export interface SharedStateUnderTest {
  jobs: { a: JobManager; b: JobManager }
  buckets: { a: BucketStore; b: BucketStore }
  bus: { a: EventBus<PersistenceEvents>; b: EventBus<PersistenceEvents>; sharedB?: SharedEvents }
  cleanup(): Promise<void>
}

const text = (events: readonly JobEvent[]) => events.map((e) => (e.type === 'message' ? e.delta : '')).join('')

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const conflict = (error: unknown) => error instanceof HttpProblem && error.status === 409

let counter = 0
const conversation = () => `c${Date.now().toString(36)}-${counter++}`

export function describeSharedStateContract(name: string, open: () => Promise<SharedStateUnderTest>): void {
  describe(`shared-state contract: ${name}`, async () => {
    const under = await open()
    after(() => under.cleanup())
    const { a, b } = under.jobs

    describe('job manager', () => {
      it('B finds the job A runs and reads its log with contiguous seqs', async () => {
        const id = conversation()
        const job = await a.create({ userId: 'u', conversationId: id })
        job.appendText('Hel')
        job.appendText('lo')
        job.append('tool_call', { id: 't1' })
        job.appendText(' world')
        job.finish('complete', 'done', { status: 'complete' })
        await until(async () => (await (await b.find(id))?.read(0))?.some((e) => e.type === 'done') === true, 'the end on B')
        const seen = await (await b.find(id))!.read(0)
        assert.deepEqual(seen.map((e) => e.seq), seen.map((_, i) => i + 1))
        assert.equal(text(seen), 'Hello world')
        assert.deepEqual(seen.filter((e) => e.type !== 'message').map((e) => e.type), ['tool_call', 'done'])
        assert.deepEqual((await b.find(id))!.userId, 'u')
      })

      it('a second start anywhere is a 409 while one runs, and allowed after it ended', async () => {
        const id = conversation()
        const job = await a.create({ userId: 'u', conversationId: id })
        await assert.rejects(async () => b.create({ userId: 'u', conversationId: id }), conflict)
        await assert.rejects(async () => a.create({ userId: 'u', conversationId: id }), conflict)
        job.finish('complete', 'done', {})
        await until(async () => (await b.find(id))?.status === 'complete', 'the end to be recorded')
        const next = await b.create({ userId: 'u', conversationId: id })
        assert.notEqual(next.id, job.id)
        next.finish('complete', 'done', {})
      })

      it('a subscriber on B after a cursor gets the rest live, without gap or duplicate, until the end', async () => {
        const id = conversation()
        const job = await a.create({ userId: 'u', conversationId: id })
        job.appendText('one ')
        job.append('tool_call', { id: 'x' })
        await until(async () => ((await (await b.find(id))?.read(0))?.length ?? 0) >= 2, 'two events on B')
        const got: JobEvent[] = []
        const detach = (await b.find(id))!.subscribe(1, (event) => got.push(event))
        for (const delta of ['two ', 'three ', 'four']) {
          job.appendText(delta)
          await new Promise((resolve) => setTimeout(resolve, 5))
        }
        job.finish('complete', 'done', {})
        await until(() => got.some((e) => e.type === 'done'), 'the end live on B')
        detach()
        assert.deepEqual(got.map((e) => e.seq), got.map((_, i) => i + 2))
        assert.equal(text(got), 'two three four')
        assert.equal(got[0].type, 'tool_call')
      })

      it('stop from B aborts the job A runs; a finished job cannot be stopped', async () => {
        const id = conversation()
        const job = await a.create({ userId: 'u', conversationId: id })
        assert.equal(await (await b.find(id))!.stop('stopped'), true)
        await until(() => job.signal.aborted, 'the abort on A')
        assert.equal(job.stopReason, 'stopped')
        job.finish('stopped', 'done', { status: 'stopped' })
        await until(async () => (await b.find(id))?.status === 'stopped', 'the stopped status on B')
        assert.equal(await (await b.find(id))!.stop('stopped'), false)
      })

      it('a conversation without jobs has none, and stats come back to zero', async () => {
        assert.equal(await b.find(conversation()), undefined)
        await until(() => a.stats().running === 0 && b.stats().listeners === 0, 'no running job or listener')
      })
    })

    describe('bucket store', () => {
      it('shares one bucket: a burst of 6 across A and B lets 3 + 3 through at capacity 6', async () => {
        const key = `k:${conversation()}`
        const spec = { capacity: 6, refillPerSecond: 0.001 }
        const global = { capacity: 1_000, refillPerSecond: 1_000 }
        const results = []
        for (let i = 0; i < 10; i++) results.push(await (i % 2 ? under.buckets.b : under.buckets.a).admit(key, spec, global))
        assert.equal(results.filter((r) => r.client.allowed).length, 6)
        const refused = results.find((r) => !r.client.allowed)!
        assert.equal(refused.global, null, 'a refused client spends no global token')
        assert.ok(refused.client.retryAfterMs > 0)
      })

      it('the global bucket refuses once empty, whichever client on whichever instance asks', async () => {
        const spec = { capacity: 100, refillPerSecond: 100 }
        // The only test that drains the global bucket (capacity 3 caps whatever the earlier test left).
        const global = { capacity: 3, refillPerSecond: 0.001 }
        const prefix = conversation()
        const results = []
        for (let i = 0; i < 5; i++) results.push(await (i % 2 ? under.buckets.b : under.buckets.a).admit(`${prefix}:${i}`, spec, global))
        assert.equal(results.filter((r) => r.global?.allowed).length, 3)
        assert.ok(results.every((r) => r.client.allowed && r.global !== null))
      })
    })

    describe('event bus', () => {
      it('a message saved through A reaches a watcher on B, once', async () => {
        const id = conversation()
        const release = under.bus.sharedB?.watch(id)
        const got: PersistenceEvents['message.appended'][] = []
        const detach = under.bus.b.subscribe('message.appended', (event) => got.push(event))
        // The watch is subscribed asynchronously; the first publish waits for it.
        await new Promise((resolve) => setTimeout(resolve, 50))
        const message = { id: 'm1', conversationId: id, seq: 1, role: 'user', content: 'hi', status: 'complete', createdAt: 1 } as Message
        under.bus.a.publish('message.appended', { userId: 'u', conversationId: id, message })
        await until(() => got.length > 0, 'the event on B')
        await new Promise((resolve) => setTimeout(resolve, 50))
        assert.equal(got.length, 1)
        assert.deepEqual(got[0].message, message)
        detach()
        release?.()
      })
    })
  })
}
