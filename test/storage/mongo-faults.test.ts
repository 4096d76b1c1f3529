import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoServerError,
  MongoTopologyClosedError,
  MongoWriteConcernError,
} from 'mongodb'
import { createMongoStores, mongoClientOptions, type MongoStoresOptions } from '../../src/storage/mongo/index.ts'
import { StoreUnavailableError, type Stores } from '../../src/storage/ports.ts'
import { AUTH, memoryLogger, testApp } from '../helpers/app.ts'
import { FaultyMongo, NOWHERE } from '../helpers/mongo-faults.ts'

const clock = { now: () => Date.UTC(2026, 0, 2) }
// The outage is what these tests are about: a short server selection keeps each refused attempt short.
const DRIVER = mongoClientOptions({ serverSelectionTimeoutMS: 300 })
const opened: Stores[] = []

async function open(faulty: FaultyMongo, options: Partial<MongoStoresOptions> = {}) {
  const { logger, lines } = memoryLogger()
  const stores = await createMongoStores({ uri: NOWHERE, dbName: 'faults', client: faulty.client, clock, logger, ...options })
  opened.push(stores)
  const { app } = await testApp({ deps: { stores } })
  return { stores, lines, app }
}

async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check()) return
    await sleep(50)
  }
  assert.fail(`timed out waiting for: ${what}`)
}

const json = (body: unknown) => ({ method: 'POST', headers: { ...AUTH.alice, 'content-type': 'application/json' }, body: JSON.stringify(body) })
const conversation = (user: string, extra: object = {}) => ({ _id: 'shared', user_id: user, last_seq: 0, updated_at: new Date(0), version: 1, ...extra })
const unavailable = (check?: (error: StoreUnavailableError) => void) => (error: unknown) => {
  assert.ok(error instanceof StoreUnavailableError, String(error))
  check?.(error)
  return true
}

after(async () => {
  await Promise.all(opened.map((stores) => stores.close()))
})

describe('MongoDB adapter under faults: connecting', () => {
  it('connects by itself after a failed first connect; /ready is 503 until then, /live 200 throughout', async () => {
    const faulty = new FaultyMongo(DRIVER)
    const { app, lines } = await open(faulty)
    const list = () => app.request('/api/v1/conversations', { headers: AUTH.alice })
    assert.ok(lines.some((line) => line.level === 40 && /unreachable/.test(String(line.msg))))
    assert.equal((await app.request('/ready')).status, 503)
    assert.equal((await list()).status, 503)
    assert.equal((await app.request('/live')).status, 200, 'a restart would not bring the database back')

    faulty.up = true
    await until('a listing answered', async () => (await list()).status === 200)
    await until('/ready 200', async () => (await app.request('/ready')).status === 200)
    assert.ok(faulty.count('connect') >= 2, 'connect() called again')
    assert.deepEqual(faulty.indexNames('messages').sort(), ['_id_', 'user_conversation_seq'])
  })

  it('connects again when an operation finds the topology closed', async () => {
    const faulty = new FaultyMongo(DRIVER)
    faulty.up = true
    const { app } = await open(faulty)
    const list = () => app.request('/api/v1/conversations', { headers: AUTH.alice })
    assert.equal((await list()).status, 200)
    const connects = faulty.count('connect')
    faulty.fail('conversations.find', new MongoTopologyClosedError())
    assert.equal((await list()).status, 503)
    await until('connected again', async () => faulty.count('connect') > connects && (await list()).status === 200)
  })
})

describe('MongoDB adapter under faults: bounded waits and the breaker', () => {
  it('answers every store call within the operation timeout, however long MongoDB hangs', async () => {
    const faulty = new FaultyMongo(DRIVER)
    faulty.up = true
    // The bound itself is under test: 300 ms instead of the shipped 5 s keeps the test short.
    const { stores, app } = await open(faulty, { operationTimeoutMS: 300 })
    faulty.answer('conversations.findOne', () => new Promise(() => {}))
    const started = Date.now()
    await assert.rejects(stores.conversations.get('alice', 'x'), unavailable((error) => assert.equal(error.outcomeUnknown, false)))
    assert.ok(Date.now() - started < 3000)
    await sleep(1100) // the breaker's window
    faulty.answer('conversations.insertOne', () => new Promise(() => {}))
    const res = await app.request('/api/v1/conversations', json({ title: 'held' }))
    assert.equal(res.status, 503)
    assert.match(((await res.json()) as { detail: string }).detail, /may or may not have been saved/)
  })

  it('lets exactly one request probe per window; the others get 503 with Retry-After at once', async () => {
    const faulty = new FaultyMongo(DRIVER)
    faulty.up = true
    const { app } = await open(faulty)
    const list = () => app.request('/api/v1/conversations', { headers: AUTH.alice })
    faulty.fail('conversations.find', new MongoNetworkTimeoutError('connection timed out'))
    assert.equal((await list()).status, 503)
    const reached = faulty.count('conversations.find')
    const refused = await Promise.all(Array.from({ length: 20 }, list))
    assert.deepEqual(new Set(refused.map((res) => res.status)), new Set([503]))
    assert.ok(refused.every((res) => Number(res.headers.get('retry-after')) >= 1))
    assert.equal(faulty.count('conversations.find'), reached, 'no request reached MongoDB while the breaker was open')

    await sleep(1100)
    let release!: () => void
    faulty.answer('conversations.find', () => new Promise((resolve) => (release = () => resolve([]))))
    const probe = list()
    await until('the probe reached MongoDB', async () => faulty.count('conversations.find') === reached + 1)
    const others = await Promise.all(Array.from({ length: 19 }, list))
    assert.deepEqual(new Set(others.map((res) => res.status)), new Set([503]), 'refused at once while the probe is out')
    assert.equal(faulty.count('conversations.find'), reached + 1, 'exactly one probe')
    release()
    assert.equal((await probe).status, 200)
    assert.equal((await list()).status, 200, 'the probe closed the breaker')
  })
})

describe('MongoDB adapter under faults: indexes', () => {
  it('names an index conflict in the log and /health, answers /ready 503, blocks only that collection, and does not retry per request', async () => {
    const faulty = new FaultyMongo(DRIVER)
    faulty.up = true
    faulty.fail('messages.createIndexes', new MongoServerError({ message: 'Index with name: user_conversation_seq already exists with different options', code: 85, codeName: 'IndexOptionsConflict' }))
    const { app, lines } = await open(faulty)
    const logged = lines.find((line) => line.level === 50)
    assert.match(String(logged?.msg), /index conflict on messages \(code 85\)/)
    const health = await app.request('/health')
    assert.equal(health.status, 503)
    const body = (await health.json()) as { checks: Record<string, { error?: string }> }
    assert.match(body.checks.mongodb.error ?? '', /index conflict on messages/)
    assert.equal((await app.request('/ready')).status, 503)
    assert.equal((await app.request('/api/v1/memory', { headers: AUTH.alice })).status, 200, 'memory does not depend on messages')
    for (let i = 0; i < 5; i++) assert.equal((await app.request('/api/v1/conversations', json({}))).status, 503)
    assert.equal(faulty.count('messages.createIndexes'), 1, 'tried again only after the recheck interval')
  })

  it('finds a clashing index a server did not report (same name, other key)', async () => {
    const faulty = new FaultyMongo(DRIVER)
    faulty.up = true
    faulty.answer('conversations.listIndexes', () => [{ v: 2, name: '_id_', key: { _id: 1 } }, { v: 2, name: 'user_updated', key: { user_id: 1 } }])
    const { app, lines } = await open(faulty)
    assert.ok(lines.some((line) => line.level === 50 && /index conflict on conversations: user_updated exists as \{"user_id":1\}/.test(String(line.msg))))
    assert.equal(faulty.count('conversations.createIndexes'), 0, 'nothing created over it')
    assert.equal((await app.request('/ready')).status, 503)
  })

  it('migrates a changed shipped definition deliberately: the retired index is dropped, then the new one created', async () => {
    const faulty = new FaultyMongo(DRIVER)
    faulty.up = true
    faulty.answer('messages.listIndexes', () => [{ v: 2, name: '_id_' }, { v: 2, name: 'conversation_seq' }])
    const { lines } = await open(faulty)
    const order = faulty.calls.filter((call) => call.target.startsWith('messages.')).map((call) => `${call.target} ${call.args[0] && typeof call.args[0] === 'string' ? call.args[0] : ''}`.trim())
    assert.deepEqual(order.slice(0, 3), ['messages.listIndexes', 'messages.dropIndex conversation_seq', 'messages.createIndexes'])
    assert.ok(lines.some((line) => line.level === 40 && /retired index/.test(String(line.msg))))
  })

  it('re-creates lost indexes after an outage, a failed heartbeat, a cleared pool, a connection the server closed, and periodically', async () => {
    const faulty = new FaultyMongo(DRIVER)
    faulty.up = true
    // The periodic recheck is under test: 200 ms instead of the shipped minute.
    const { stores, lines } = await open(faulty, { indexRecheckMs: 200 })
    const signal = new AbortController().signal
    const restored = () => faulty.indexNames('messages').includes('user_conversation_seq')
    assert.ok(restored())

    faulty.dropIndexes() // the database came back empty
    faulty.fail('conversations.findOne', new MongoNetworkError('connection reset by peer'))
    await assert.rejects(stores.conversations.get('alice', 'x'), unavailable())
    await stores.health!.check(signal)
    assert.ok(restored(), 'verified again after the outage')
    assert.ok(lines.some((line) => /missing indexes re-created/.test(String(line.msg))))

    faulty.dropIndexes()
    faulty.real.emit('serverHeartbeatFailed', {} as never)
    await stores.conversations.get('alice', 'x')
    assert.ok(restored(), 'verified again after a failed heartbeat')

    faulty.dropIndexes()
    faulty.real.emit('connectionPoolCleared', {} as never)
    await stores.conversations.get('alice', 'x')
    assert.ok(restored(), 'verified again after the pool was cleared')

    faulty.dropIndexes()
    faulty.real.emit('connectionClosed', { reason: 'error' } as never)
    await stores.conversations.get('alice', 'x')
    assert.ok(restored(), 'verified again after the server closed a pooled connection')

    faulty.dropIndexes()
    await sleep(250)
    await stores.conversations.get('alice', 'x')
    await until('periodic re-verification', async () => restored())
  })
})

describe('MongoDB adapter under faults: data', () => {
  it('deletes messages before their conversation, and scopes every message query and delete by user', async () => {
    const faulty = new FaultyMongo(DRIVER)
    faulty.up = true
    const { stores } = await open(faulty)
    faulty.answer('conversations.findOne', () => conversation('bob', { last_seq: 2 }))
    await stores.conversations.listMessages('bob', 'shared', { limit: 10 })
    faulty.answer('conversations.findOne', () => conversation('bob', { last_seq: 2 }))
    await stores.conversations.dropMessagesAfter('bob', 'shared', 1)
    faulty.answer('conversations.findOne', () => conversation('bob'))
    assert.equal(await stores.conversations.delete('bob', 'shared'), false, 'deletedCount 0 from the empty database')
    const messageCalls = faulty.calls.filter((call) => call.target.startsWith('messages.') && !/Index/.test(call.target))
    assert.ok(messageCalls.length >= 3)
    for (const call of messageCalls) assert.equal((call.args[0] as { user_id?: string }).user_id, 'bob', call.target)

    // The second step of a delete fails: the conversation (and so its messages) stay with their owner.
    faulty.answer('conversations.findOne', () => conversation('alice'))
    faulty.fail('messages.deleteMany', new MongoNetworkTimeoutError('connection timed out'))
    const deletes = faulty.count('conversations.deleteOne')
    await assert.rejects(stores.conversations.delete('alice', 'shared'), unavailable((error) => assert.equal(error.outcomeUnknown, true)))
    assert.equal(faulty.count('conversations.deleteOne'), deletes, 'the conversation is not deleted before its messages')
  })

  it('appends after a taken seq instead of failing with E11000', async () => {
    const faulty = new FaultyMongo(DRIVER)
    faulty.up = true
    const { stores } = await open(faulty)
    faulty.answer('conversations.findOne', () => conversation('bob'))
    faulty.fail('messages.insertOne', new MongoServerError({ message: 'E11000 duplicate key error collection: faults.messages index: user_conversation_seq', code: 11000 }))
    faulty.answer('conversations.findOne', () => conversation('bob'))
    faulty.answer('messages.find', () => [{ seq: 1 }])
    const message = await stores.conversations.appendMessage('bob', 'shared', { role: 'user', content: 'hello' })
    assert.equal(message?.seq, 2)
  })

  it('a failed insert moves no counter; updates use plain operators only', async () => {
    const faulty = new FaultyMongo(DRIVER)
    faulty.up = true
    // The breaker is not under test here; off, so each fault below meets the next call.
    const { stores } = await open(faulty, { failFastMs: 0 })
    faulty.answer('conversations.findOne', () => conversation('alice', { last_seq: 4 }))
    faulty.fail('messages.insertOne', new MongoNetworkError('connection reset'))
    await assert.rejects(stores.conversations.appendMessage('alice', 'shared', { role: 'user', content: 'x' }), unavailable((error) => assert.equal(error.outcomeUnknown, true)))
    const counters = faulty.calls.filter((call) => /^conversations\.(updateOne|findOneAndUpdate)$/.test(call.target))
    assert.deepEqual(counters, [], 'no seq reserved, no message_count bumped')

    faulty.answer('conversations.findOne', () => conversation('alice', { last_seq: 4 }))
    await stores.conversations.appendMessage('alice', 'shared', { role: 'user', content: 'x' })
    faulty.answer('conversations.findOne', () => conversation('alice'))
    faulty.answer('conversations.findOneAndUpdate', () => ({ ...conversation('alice'), title: 't', metadata_json: '{}', created_at: new Date(0), message_count: 0, version: 2 }))
    await stores.conversations.update('alice', 'shared', { title: '$where' })
    faulty.answer('conversations.findOne', () => conversation('alice', { last_seq: 5 }))
    await stores.conversations.dropMessagesAfter('alice', 'shared', 1)
    const updates = faulty.calls.filter((call) => /^conversations\.(updateOne|findOneAndUpdate)$/.test(call.target))
    assert.equal(updates.length, 3)
    for (const call of updates) {
      const update = call.args[1] as Record<string, unknown>
      assert.ok(!Array.isArray(update), 'no update pipeline')
      assert.ok(Object.keys(update).every((op) => ['$set', '$inc', '$max'].includes(op)), JSON.stringify(update))
    }
  })

  it('a create retried with its Idempotency-Key after a 503 of unknown outcome is not a duplicate', async () => {
    const faulty = new FaultyMongo(DRIVER)
    faulty.up = true
    // The breaker is not under test here; off, so the retry meets the database at once.
    const { app } = await open(faulty, { failFastMs: 0 })
    const post = () => app.request('/api/v1/conversations', { ...json({ title: 't' }), headers: { ...json({}).headers, 'idempotency-key': 'k-1' } })
    // The insert was applied, but the reply was lost.
    faulty.fail('conversations.insertOne', new MongoNetworkTimeoutError('connection timed out'))
    const lost = await post()
    assert.equal(lost.status, 503)
    assert.match(((await lost.json()) as { detail: string }).detail, /may or may not have been saved/)
    const applied = faulty.calls.find((call) => call.target === 'conversations.insertOne')!.args[0] as { _id: string }
    faulty.fail('conversations.insertOne', new MongoServerError({ message: 'E11000 duplicate key error collection: faults.conversations index: _id_', code: 11000 }))
    faulty.answer('conversations.findOne', (args) => {
      assert.deepEqual(args[0], { _id: applied._id, user_id: 'alice' })
      return { ...applied }
    })
    const retried = await post()
    assert.equal(retried.status, 201)
    assert.equal(((await retried.json()) as { id: string }).id, applied._id, 'the first create, found again')
    const inserts = faulty.calls.filter((call) => call.target === 'conversations.insertOne').map((call) => (call.args[0] as { _id: string })._id)
    assert.deepEqual(new Set(inserts), new Set([applied._id]), 'both attempts wrote the same id')
  })

  it('answers a write-concern failure (code 64) with 503 saying the outcome is unknown', async () => {
    const faulty = new FaultyMongo(DRIVER)
    faulty.up = true
    const { app } = await open(faulty)
    faulty.fail('conversations.insertOne', new MongoWriteConcernError({ writeConcernError: { code: 64, codeName: 'WriteConcernFailed', errmsg: 'waiting for replication timed out', errInfo: {} }, ok: 1 }))
    const res = await app.request('/api/v1/conversations', json({ title: 't' }))
    assert.equal(res.status, 503)
    assert.ok(res.headers.get('retry-after'))
    assert.match(((await res.json()) as { detail: string }).detail, /may or may not have been saved/)
  })
})
