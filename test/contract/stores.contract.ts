import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { WallClock } from '../../src/kernel/clock.ts'
import {
  IdTakenError,
  InvalidCursorError,
  VersionConflictError,
  type Message,
  type Page,
  type PageRequest,
  type Stores,
} from '../../src/storage/ports.ts'

/** A clock the suite moves by hand; frozen by default so ties in `updatedAt`/`createdAt` are the norm. */
export class ManualClock implements WallClock {
  time = Date.UTC(2026, 0, 1)
  now(): number {
    return this.time
  }
  advance(ms = 1): void {
    this.time += ms
  }
}

export interface StoreUnderTest {
  stores: Stores
  /** Drops everything the run stored and closes connections. */
  cleanup(): Promise<void>
}

export type StoreFactory = (options: { clock: WallClock }) => Promise<StoreUnderTest>

/** Every page of a paginated listing, following cursors until `null` (bounded). */
async function collect<T>(fetch: (page: PageRequest) => Promise<Page<T> | null>, limit: number): Promise<T[][]> {
  const pages: T[][] = []
  let cursor: string | undefined
  for (let round = 0; round < 1000; round++) {
    const page = await fetch({ limit, cursor })
    assert.ok(page, 'expected a page')
    pages.push(page.items)
    if (page.nextCursor === null) return pages
    cursor = page.nextCursor
  }
  throw new Error('pagination did not end')
}

const base64url = (text: string) => btoa(text).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')

/** A cursor whose first bytes no longer decode to a JSON object (`{"k` becomes `["k`), same alphabet. */
function tamper(cursor: string): string {
  assert.equal(cursor.slice(0, 4), base64url('{"k'))
  return base64url('["k') + cursor.slice(4)
}

/** Well-formed base64url JSON of the right kind with fields of the wrong type. */
const FORGED = [base64url('{"k":"c","u":"x","i":1}'), base64url('{"k":"m","s":-1}'), base64url('{"k":"n","c":1.5,"i":""}')]

/**
 * The one behaviour contract every storage adapter passes unchanged (memory, MongoDB). Each `describe`
 * gets fresh stores from `factory`; user ids are unique per run so a shared database cannot leak in.
 */
export function describeStoreContract(name: string, factory: StoreFactory): void {
  describe(`store contract: ${name}`, () => {
    const clock = new ManualClock()
    let stores: Stores
    let cleanup: () => Promise<void>
    let run = 0
    const user = (label: string) => `${label}-${run}`

    before(async () => {
      run = Date.now()
      const made = await factory({ clock })
      stores = made.stores
      cleanup = made.cleanup
    })
    after(async () => {
      await cleanup?.()
    })

    describe('conversations', () => {
      it("counts a user's conversations, and only theirs", async () => {
        const owner = user('count-conv')
        assert.equal(await stores.conversations.count(owner), 0)
        const first = await stores.conversations.create(owner, { title: 'a' })
        await stores.conversations.create(owner, { title: 'b' })
        await stores.conversations.create(user('count-other'), { title: 'c' })
        assert.equal(await stores.conversations.count(owner), 2)
        await stores.conversations.delete(owner, first.id)
        assert.equal(await stores.conversations.count(owner), 1)
      })

      it('creates and reads back what was stored', async () => {
        const alice = user('alice')
        const created = await stores.conversations.create(alice, { title: 'First', metadata: { model: 'x', nested: { a: [1, 2] } } })
        assert.equal(typeof created.id, 'string')
        assert.equal(created.userId, alice)
        assert.equal(created.title, 'First')
        assert.equal(created.messageCount, 0)
        assert.equal(created.createdAt, clock.now())
        assert.equal(created.updatedAt, clock.now())
        const read = await stores.conversations.get(alice, created.id)
        assert.deepEqual(read, created)
      })

      it('keeps a caller-chosen id and refuses a taken one, whoever owns it', async () => {
        const id = `chosen-${run}`
        const created = await stores.conversations.create(user('alice'), { id })
        assert.equal(created.id, id)
        assert.equal(created.title, null)
        assert.deepEqual(created.metadata, {})
        await assert.rejects(stores.conversations.create(user('alice'), { id }), IdTakenError)
        await assert.rejects(stores.conversations.create(user('bob'), { id }), IdTakenError)
      })

      it('makes one conversation for a create repeated with the same idempotency key, per user', async () => {
        const [alice, bob] = [user('idem-alice'), user('idem-bob')]
        const key = `retry-${run}`
        const first = await stores.conversations.create(alice, { title: 'once', idempotencyKey: key })
        const again = await stores.conversations.create(alice, { title: 'twice', idempotencyKey: key })
        assert.deepEqual(again, first, 'the repeat answers with the first, whatever its fields say')
        const other = await stores.conversations.create(bob, { title: 'bob', idempotencyKey: key })
        assert.notEqual(other.id, first.id, 'keys of different users never meet')
        assert.equal((await stores.conversations.list(alice, { limit: 10 })).items.length, 1)
        const fresh = await stores.conversations.create(alice, { title: 'new', idempotencyKey: `${key}-2` })
        assert.notEqual(fresh.id, first.id)
      })

      it('lists newest updatedAt first and pages through ties with no duplicates or gaps', async () => {
        const owner = user('lister')
        const ids: string[] = []
        for (let i = 0; i < 12; i++) ids.push((await stores.conversations.create(owner, { title: `tie ${i}` })).id)
        clock.advance(5)
        for (let i = 0; i < 11; i++) {
          ids.push((await stores.conversations.create(owner, { title: `later ${i}` })).id)
          if (i % 3 === 0) clock.advance(1)
        }
        const pages = await collect((page) => stores.conversations.list(owner, page), 5)
        const listed = pages.flat()
        assert.equal(pages.length, 5)
        assert.ok(pages.slice(0, -1).every((page) => page.length === 5))
        assert.equal(listed.length, ids.length, 'no gaps')
        assert.equal(new Set(listed.map((c) => c.id)).size, ids.length, 'no duplicates')
        assert.deepEqual(new Set(listed.map((c) => c.id)), new Set(ids))
        for (let i = 1; i < listed.length; i++) {
          const [a, b] = [listed[i - 1], listed[i]]
          assert.ok(a.updatedAt > b.updatedAt || (a.updatedAt === b.updatedAt && a.id > b.id), 'newest first, ties by id descending')
        }
        // The same walk with a page size that splits the tie group elsewhere gives the same order.
        const again = (await collect((page) => stores.conversations.list(owner, page), 7)).flat()
        assert.deepEqual(again.map((c) => c.id), listed.map((c) => c.id))
      })

      it('returns an empty last page with a null cursor', async () => {
        const page = await stores.conversations.list(user('nobody'), { limit: 20 })
        assert.deepEqual(page, { items: [], nextCursor: null })
        const owner = user('exact')
        await stores.conversations.create(owner, {})
        await stores.conversations.create(owner, {})
        const full = await stores.conversations.list(owner, { limit: 2 })
        assert.equal(full.items.length, 2)
        assert.equal(full.nextCursor, null)
      })

      it('updates bump updatedAt and version even within one millisecond, and reorder the list', async () => {
        const owner = user('updater')
        const first = await stores.conversations.create(owner, { title: 'one' })
        const second = await stores.conversations.create(owner, { title: 'two' })
        const updated = await stores.conversations.update(owner, first.id, { title: 'renamed', metadata: { k: 'v' } })
        assert.ok(updated)
        assert.equal(updated.title, 'renamed')
        assert.deepEqual(updated.metadata, { k: 'v' })
        assert.ok(updated.updatedAt > first.updatedAt, 'updatedAt strictly increases with a frozen clock')
        assert.equal(updated.version, first.version + 1)
        assert.equal(updated.createdAt, first.createdAt)
        const again = await stores.conversations.update(owner, first.id, { title: null })
        assert.ok(again && again.updatedAt > updated.updatedAt)
        assert.equal(again.title, null)
        assert.deepEqual(again.metadata, { k: 'v' }, 'an absent field is left as it was')
        assert.deepEqual(await stores.conversations.get(owner, first.id), again)
        const listed = await stores.conversations.list(owner, { limit: 10 })
        assert.deepEqual(listed.items.map((c) => c.id), [first.id, second.id])
      })

      it('rejects a stale expected version and leaves the conversation unchanged', async () => {
        const owner = user('versions')
        const created = await stores.conversations.create(owner, { title: 'v1' })
        const next = await stores.conversations.update(owner, created.id, { title: 'v2' }, created.version)
        assert.ok(next)
        await assert.rejects(stores.conversations.update(owner, created.id, { title: 'stale' }, created.version), (error) => {
          assert.ok(error instanceof VersionConflictError)
          assert.equal(error.current, next.version)
          return true
        })
        assert.equal((await stores.conversations.get(owner, created.id))?.title, 'v2')
        assert.equal(await stores.conversations.update(owner, 'missing-id', { title: 'x' }, 1), null)
      })

      it('appends messages in strict seq order and bumps the conversation', async () => {
        const owner = user('appender')
        const conversation = await stores.conversations.create(owner, {})
        const one = await stores.conversations.appendMessage(owner, conversation.id, { role: 'user', content: 'hello' })
        const two = await stores.conversations.appendMessage(owner, conversation.id, {
          role: 'assistant',
          content: 'hi',
          status: 'stopped',
          tokens: 7,
          data: { toolCalls: [{ id: 't1' }] },
        })
        assert.ok(one && two)
        assert.equal(one.seq, 1)
        assert.equal(one.status, 'complete')
        assert.equal(one.conversationId, conversation.id)
        assert.equal(two.seq, 2)
        const after = await stores.conversations.get(owner, conversation.id)
        assert.ok(after)
        assert.equal(after.messageCount, 2)
        assert.ok(after.updatedAt > conversation.updatedAt)
        assert.equal(after.version, conversation.version + 2)
        const page = await stores.conversations.listMessages(owner, conversation.id, { limit: 10 })
        assert.deepEqual(page, { items: [one, two], nextCursor: null })
        assert.equal(page.items[1].tokens, 7)
        assert.deepEqual(page.items[1].data, { toolCalls: [{ id: 't1' }] })
        assert.equal(await stores.conversations.appendMessage(owner, 'missing-id', { role: 'user', content: 'x' }), null)
        assert.equal(await stores.conversations.listMessages(owner, 'missing-id', { limit: 10 }), null)
      })

      it('keeps all of 100 concurrent appends in a strict order', async () => {
        const owner = user('burst')
        const conversation = await stores.conversations.create(owner, {})
        const appended = await Promise.all(
          Array.from({ length: 100 }, (_, i) => stores.conversations.appendMessage(owner, conversation.id, { role: 'user', content: `m${i}` })),
        )
        assert.ok(appended.every((message) => message !== null))
        assert.deepEqual(
          appended.map((message) => message!.seq).sort((a, b) => a - b),
          Array.from({ length: 100 }, (_, i) => i + 1),
        )
        const pages = await collect((page) => stores.conversations.listMessages(owner, conversation.id, page), 30)
        const messages: Message[] = pages.flat()
        assert.deepEqual(messages.map((m) => m.seq), Array.from({ length: 100 }, (_, i) => i + 1), 'strict order, no gaps')
        assert.deepEqual(new Set(messages.map((m) => m.content)), new Set(appended.map((m) => m!.content)), 'none lost')
        assert.equal(new Set(messages.map((m) => m.id)).size, 100)
        const after = await stores.conversations.get(owner, conversation.id)
        assert.equal(after?.messageCount, 100)
        assert.equal(after?.version, conversation.version + 100)
      })

      it('deleting a conversation deletes its messages', async () => {
        const owner = user('deleter')
        const id = `doomed-${run}`
        await stores.conversations.create(owner, { id })
        await stores.conversations.appendMessage(owner, id, { role: 'user', content: 'bye' })
        assert.equal(await stores.conversations.delete(owner, id), true)
        assert.equal(await stores.conversations.get(owner, id), null)
        assert.equal(await stores.conversations.listMessages(owner, id, { limit: 10 }), null)
        assert.equal(await stores.conversations.appendMessage(owner, id, { role: 'user', content: 'x' }), null)
        assert.equal(await stores.conversations.delete(owner, id), false)
        assert.deepEqual((await stores.conversations.list(owner, { limit: 10 })).items, [])
        // Re-using the id starts from nothing: no message of the old conversation survives.
        await stores.conversations.create(owner, { id })
        assert.deepEqual(await stores.conversations.listMessages(owner, id, { limit: 10 }), { items: [], nextCursor: null })
        const fresh = await stores.conversations.appendMessage(owner, id, { role: 'user', content: 'again' })
        assert.equal(fresh?.seq, 1)
      })

      it('drops the messages after a position; the next append continues right after it', async () => {
        const owner = user('rewinder')
        const conversation = await stores.conversations.create(owner, {})
        for (const content of ['q1', 'a1', 'q2', 'a2']) {
          await stores.conversations.appendMessage(owner, conversation.id, { role: content.startsWith('q') ? 'user' : 'assistant', content })
        }
        const before = (await stores.conversations.get(owner, conversation.id))!
        clock.advance()
        assert.equal(await stores.conversations.dropMessagesAfter(owner, conversation.id, 2), 2)
        const after = (await stores.conversations.get(owner, conversation.id))!
        assert.equal(after.messageCount, 2)
        assert.ok(after.version > before.version, 'the ETag changes')
        assert.ok(after.updatedAt >= before.updatedAt)
        const kept = (await stores.conversations.listMessages(owner, conversation.id, { limit: 10 }))!
        assert.deepEqual(kept.items.map((m) => [m.seq, m.content]), [[1, 'q1'], [2, 'a1']])
        const next = await stores.conversations.appendMessage(owner, conversation.id, { role: 'user', content: 'q2 again' })
        assert.equal(next?.seq, 3)
        const pages = await collect((page) => stores.conversations.listMessages(owner, conversation.id, page), 2)
        assert.deepEqual(pages.flat().map((m) => m.seq), [1, 2, 3], 'no gap, no repeat')
        assert.equal((await stores.conversations.get(owner, conversation.id))!.messageCount, 3)
      })

      it('dropping after 0 empties a conversation; at or past its end drops nothing and changes nothing', async () => {
        const owner = user('emptier')
        const conversation = await stores.conversations.create(owner, {})
        await stores.conversations.appendMessage(owner, conversation.id, { role: 'user', content: 'one' })
        await stores.conversations.appendMessage(owner, conversation.id, { role: 'assistant', content: 'two' })
        const full = (await stores.conversations.get(owner, conversation.id))!
        assert.equal(await stores.conversations.dropMessagesAfter(owner, conversation.id, 2), 0)
        assert.equal(await stores.conversations.dropMessagesAfter(owner, conversation.id, 9), 0)
        assert.equal((await stores.conversations.get(owner, conversation.id))!.version, full.version)
        assert.equal(await stores.conversations.dropMessagesAfter(owner, conversation.id, 0), 2)
        assert.deepEqual(await stores.conversations.listMessages(owner, conversation.id, { limit: 10 }), { items: [], nextCursor: null })
        assert.equal((await stores.conversations.get(owner, conversation.id))!.messageCount, 0)
        assert.equal((await stores.conversations.appendMessage(owner, conversation.id, { role: 'user', content: 'anew' }))?.seq, 1)
      })

      it("dropping messages of a missing or another user's conversation is null and drops nothing", async () => {
        const owner = user('keeper')
        const other = user('meddler')
        const conversation = await stores.conversations.create(owner, {})
        await stores.conversations.appendMessage(owner, conversation.id, { role: 'user', content: 'mine' })
        assert.equal(await stores.conversations.dropMessagesAfter(other, conversation.id, 0), null)
        assert.equal(await stores.conversations.dropMessagesAfter(owner, `missing-${run}`, 0), null)
        const page = (await stores.conversations.listMessages(owner, conversation.id, { limit: 10 }))!
        assert.deepEqual(page.items.map((m) => m.content), ['mine'])
      })

      it('rejects garbage, tampered and foreign cursors', async () => {
        const owner = user('cursors')
        const conversation = await stores.conversations.create(owner, {})
        await stores.conversations.create(owner, {})
        await stores.conversations.appendMessage(owner, conversation.id, { role: 'user', content: 'a' })
        await stores.conversations.appendMessage(owner, conversation.id, { role: 'user', content: 'b' })
        const listCursor = (await stores.conversations.list(owner, { limit: 1 })).nextCursor!
        const messageCursor = (await stores.conversations.listMessages(owner, conversation.id, { limit: 1 }))!.nextCursor!
        assert.ok(listCursor && messageCursor)
        for (const cursor of ['garbage!', 'e30', tamper(listCursor), messageCursor, 'x'.repeat(5000), ...FORGED]) {
          await assert.rejects(stores.conversations.list(owner, { limit: 5, cursor }), InvalidCursorError, cursor)
        }
        for (const cursor of ['%%%', tamper(messageCursor), listCursor, ...FORGED]) {
          await assert.rejects(stores.conversations.listMessages(owner, conversation.id, { limit: 5, cursor }), InvalidCursorError, cursor)
        }
        await assert.rejects(stores.memory.list(owner, { limit: 5, cursor: listCursor }), InvalidCursorError)
      })

      it('isolates users in every method', async () => {
        const [alice, bob] = [user('iso-alice'), user('iso-bob')]
        const owned = await stores.conversations.create(alice, { title: 'private', metadata: { secret: true } })
        await stores.conversations.appendMessage(alice, owned.id, { role: 'user', content: 'secret' })
        const snapshot = await stores.conversations.get(alice, owned.id)

        assert.equal(await stores.conversations.get(bob, owned.id), null)
        assert.deepEqual(await stores.conversations.list(bob, { limit: 100 }), { items: [], nextCursor: null })
        assert.equal(await stores.conversations.update(bob, owned.id, { title: 'hijacked' }), null)
        assert.equal(await stores.conversations.update(bob, owned.id, { title: 'hijacked' }, snapshot!.version), null)
        assert.equal(await stores.conversations.appendMessage(bob, owned.id, { role: 'user', content: 'injected' }), null)
        assert.equal(await stores.conversations.listMessages(bob, owned.id, { limit: 10 }), null)
        assert.equal(await stores.conversations.delete(bob, owned.id), false)
        // A cursor from alice's listing reveals nothing of hers to bob.
        await stores.conversations.create(alice, {})
        const aliceCursor = (await stores.conversations.list(alice, { limit: 1 })).nextCursor!
        assert.deepEqual((await stores.conversations.list(bob, { limit: 10, cursor: aliceCursor })).items, [])

        assert.deepEqual(await stores.conversations.get(alice, owned.id), snapshot, 'alice’s conversation is untouched')
        const messages = await stores.conversations.listMessages(alice, owned.id, { limit: 10 })
        assert.deepEqual(messages?.items.map((m) => m.content), ['secret'])
      })
    })

    describe('memory', () => {
      it("counts a user's memory items, and only theirs", async () => {
        const owner = user('count-mem')
        assert.equal(await stores.memory.count(owner), 0)
        const item = await stores.memory.store(owner, { content: 'one' })
        await stores.memory.store(owner, { content: 'two' })
        await stores.memory.store(user('count-mem-other'), { content: 'three' })
        assert.equal(await stores.memory.count(owner), 2)
        await stores.memory.delete(owner, item.id)
        assert.equal(await stores.memory.count(owner), 1)
      })

      it('stores and lists newest first, paging through ties with no duplicates or gaps', async () => {
        const owner = user('mem-list')
        const stored = await stores.memory.store(owner, { content: 'remember the milk', tags: ['home', 'home', 'todo'], metadata: { source: 'chat' } })
        assert.equal(stored.userId, owner)
        assert.equal(stored.content, 'remember the milk')
        assert.deepEqual(stored.tags, ['home', 'todo'], 'duplicate tags collapse')
        assert.deepEqual(stored.metadata, { source: 'chat' })
        assert.equal(stored.createdAt, clock.now())
        const ids = [stored.id]
        for (let i = 0; i < 8; i++) ids.push((await stores.memory.store(owner, { content: `tie ${i}` })).id)
        clock.advance(3)
        for (let i = 0; i < 6; i++) ids.push((await stores.memory.store(owner, { content: `later ${i}` })).id)
        const pages = await collect((page) => stores.memory.list(owner, page), 4)
        const listed = pages.flat()
        assert.equal(listed.length, ids.length)
        assert.deepEqual(new Set(listed.map((item) => item.id)), new Set(ids))
        for (let i = 1; i < listed.length; i++) {
          const [a, b] = [listed[i - 1], listed[i]]
          assert.ok(a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.id > b.id))
        }
        await assert.rejects(stores.memory.list(owner, { limit: 4, cursor: 'not a cursor' }), InvalidCursorError)
        const first = await stores.memory.list(owner, { limit: 1 })
        for (const cursor of [tamper(first.nextCursor!), ...FORGED]) {
          await assert.rejects(stores.memory.list(owner, { limit: 4, cursor }), InvalidCursorError, cursor)
        }
      })

      it('ranks the more relevant item first and leaves out items sharing no term', async () => {
        const owner = user('mem-rank')
        const focused = await stores.memory.store(owner, { content: 'Kubernetes pod scheduling: kubernetes affinity and kubernetes taints' })
        const passing = await stores.memory.store(owner, {
          content: 'Notes from the offsite about budgets, hiring plans, the new office, lunch options, and one remark on kubernetes',
        })
        const unrelated = await stores.memory.store(owner, { content: 'Grandma’s lasagne recipe with extra basil' })
        const results = await stores.memory.search(owner, { query: 'Kubernetes', limit: 10 })
        assert.deepEqual(results.map((r) => r.id), [focused.id, passing.id])
        assert.ok(results[0].score > results[1].score && results[1].score > 0)
        assert.equal(results[0].content, focused.content)
        assert.ok(!results.some((r) => r.id === unrelated.id))
        assert.deepEqual(await stores.memory.search(owner, { query: 'quantum chromodynamics', limit: 10 }), [])
        assert.deepEqual((await stores.memory.search(owner, { query: 'basil', limit: 10 })).map((r) => r.id), [unrelated.id])
        assert.equal((await stores.memory.search(owner, { query: 'kubernetes', limit: 1 })).length, 1)
      })

      it('finds terms the way a MongoDB text index splits them: snake_case whole, Hindi whole, dashes split', async () => {
        const owner = user('mem-terms')
        const code = await stores.memory.store(owner, { content: 'rename snake_case_name before the release' })
        const hindi = await stores.memory.store(owner, { content: 'मुझे हिन्दी पसंद है' })
        const dashed = await stores.memory.store(owner, { content: 'a state-of-the-art build' })
        assert.deepEqual((await stores.memory.search(owner, { query: 'snake_case_name', limit: 10 })).map((r) => r.id), [code.id])
        assert.deepEqual(await stores.memory.search(owner, { query: 'snake', limit: 10 }), [], 'one indexed term, not three')
        assert.deepEqual((await stores.memory.search(owner, { query: 'हिन्दी', limit: 10 })).map((r) => r.id), [hindi.id])
        assert.deepEqual((await stores.memory.search(owner, { query: 'art', limit: 10 })).map((r) => r.id), [dashed.id])
      })

      it('filters by tags, requiring every given tag', async () => {
        const owner = user('mem-tags')
        const both = await stores.memory.store(owner, { content: 'deploy runbook for staging', tags: ['ops', 'staging'] })
        const opsOnly = await stores.memory.store(owner, { content: 'deploy runbook for production', tags: ['ops'] })
        await stores.memory.store(owner, { content: 'deploy party invitation', tags: ['social'] })
        const ops = await stores.memory.search(owner, { query: 'deploy runbook', limit: 10, tags: ['ops'] })
        assert.deepEqual(new Set(ops.map((r) => r.id)), new Set([both.id, opsOnly.id]))
        const staging = await stores.memory.search(owner, { query: 'deploy', limit: 10, tags: ['ops', 'staging'] })
        assert.deepEqual(staging.map((r) => r.id), [both.id])
        assert.deepEqual(staging[0].tags.sort(), ['ops', 'staging'])
        assert.deepEqual(await stores.memory.search(owner, { query: 'deploy', limit: 10, tags: ['ops', 'missing'] }), [])
      })

      it('stores one item for a store repeated with the same idempotency key, per user', async () => {
        const [alice, bob] = [user('mem-idem-alice'), user('mem-idem-bob')]
        const key = `retry-${run}`
        const first = await stores.memory.store(alice, { content: 'remember once', idempotencyKey: key })
        assert.deepEqual(await stores.memory.store(alice, { content: 'remember twice', idempotencyKey: key }), first)
        assert.notEqual((await stores.memory.store(bob, { content: 'bob', idempotencyKey: key })).id, first.id)
        assert.deepEqual((await stores.memory.list(alice, { limit: 10 })).items.map((item) => item.id), [first.id])
      })

      it('deletes an item from search and listing', async () => {
        const owner = user('mem-delete')
        const item = await stores.memory.store(owner, { content: 'ephemeral zebra fact' })
        assert.equal((await stores.memory.search(owner, { query: 'zebra', limit: 5 })).length, 1)
        assert.equal(await stores.memory.delete(owner, item.id), true)
        assert.equal(await stores.memory.delete(owner, item.id), false)
        assert.deepEqual(await stores.memory.search(owner, { query: 'zebra', limit: 5 }), [])
        assert.deepEqual((await stores.memory.list(owner, { limit: 5 })).items, [])
      })

      it('isolates users in every method', async () => {
        const [alice, bob] = [user('mem-alice'), user('mem-bob')]
        const secret = await stores.memory.store(alice, { content: 'alice private passphrase hint', tags: ['secret'] })
        await stores.memory.store(alice, { content: 'another alice passphrase note' })
        await stores.memory.store(bob, { content: 'bob unrelated note' })
        assert.deepEqual(await stores.memory.search(bob, { query: 'passphrase hint alice', limit: 10 }), [])
        assert.deepEqual(await stores.memory.search(bob, { query: 'passphrase', limit: 10, tags: ['secret'] }), [])
        const bobList = await stores.memory.list(bob, { limit: 100 })
        assert.deepEqual(bobList.items.map((item) => item.userId), [bob])
        const aliceCursor = (await stores.memory.list(alice, { limit: 1 })).nextCursor!
        assert.ok(aliceCursor)
        assert.ok((await stores.memory.list(bob, { limit: 10, cursor: aliceCursor })).items.every((item) => item.userId === bob))
        assert.equal(await stores.memory.delete(bob, secret.id), false)
        assert.deepEqual((await stores.memory.search(alice, { query: 'hint', limit: 10 })).map((r) => r.id), [secret.id])
      })
    })
  })
}

