import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { MongoNetworkError, MongoServerError } from 'mongodb'
import { loadConfig } from '../../src/config/index.ts'
import { openStores } from '../../src/runtimes/stores.ts'
import { toConversation, toMemoryItem, toMessage } from '../../src/storage/mongo/documents.ts'
import { Breaker, guarded, isDuplicateKey, isUnavailable } from '../../src/storage/mongo/errors.ts'
import { createMongoStores } from '../../src/storage/mongo/index.ts'
import { StoreUnavailableError, type Stores } from '../../src/storage/ports.ts'
import { AUTH, memoryLogger, testApp } from '../helpers/app.ts'

/** Nothing listens on port 1: connections are refused at once, so server selection fails within its budget. */
const UNREACHABLE = 'mongodb://127.0.0.1:1/?directConnection=true'
const clock = { now: () => Date.UTC(2026, 0, 2) }

describe('MongoDB documents ↔ port records', () => {
  it('maps _id to id, Dates to epoch ms and metadata JSON to objects', () => {
    const at = new Date('2026-01-02T03:04:05.678Z')
    const conversation = toConversation({
      _id: 'chat-1',
      user_id: 'alice',
      title: null,
      metadata_json: '{"$where":"x","a.b":1}',
      created_at: at,
      updated_at: new Date(at.getTime() + 5),
      message_count: 2,
      last_seq: 2,
      version: 3,
    })
    assert.deepEqual(conversation, {
      id: 'chat-1',
      userId: 'alice',
      title: null,
      metadata: { $where: 'x', 'a.b': 1 },
      createdAt: at.getTime(),
      updatedAt: at.getTime() + 5,
      messageCount: 2,
      version: 3,
    })
    const base = { _id: 'm1', conversation_id: 'chat-1', user_id: 'alice', seq: 1, role: 'user' as const, content: 'hi', status: 'complete' as const, created_at: at }
    assert.deepEqual(toMessage(base), { id: 'm1', conversationId: 'chat-1', seq: 1, role: 'user', content: 'hi', status: 'complete', createdAt: at.getTime() })
    assert.deepEqual(toMessage({ ...base, tokens: 4, data_json: '{"tool":"x"}' }).data, { tool: 'x' })
    assert.equal(toMessage({ ...base, tokens: 4 }).tokens, 4)
    const item = toMemoryItem({ _id: 'n1', user_id: 'bob', content: 'c', tags: ['t'], metadata_json: '{}', created_at: at })
    assert.deepEqual(item, { id: 'n1', userId: 'bob', content: 'c', tags: ['t'], metadata: {}, createdAt: at.getTime() })
  })
})

describe('MongoDB error mapping', () => {
  it('treats network and shutdown errors as unavailable, everything else as a bug', async () => {
    assert.equal(isUnavailable(new MongoNetworkError('connection reset')), true)
    assert.equal(isUnavailable(new MongoServerError({ message: 'shutting down', code: 91 })), true)
    assert.equal(isUnavailable(new MongoServerError({ message: 'not primary', code: 10107 })), true)
    assert.equal(isUnavailable(new MongoServerError({ message: 'E11000 duplicate key', code: 11000 })), false)
    assert.equal(isUnavailable(new Error('bug')), false)
    assert.equal(isDuplicateKey(new MongoServerError({ message: 'E11000 duplicate key', code: 11000 })), true)

    await assert.rejects(guarded(() => Promise.reject(new MongoNetworkError('reset'))), StoreUnavailableError)
    const bug = new TypeError('bug')
    await assert.rejects(guarded(() => Promise.reject(bug)), (error) => error === bug)
  })

  it('fails fast after an outage until the cooldown passes or the breaker is reset', async () => {
    const breaker = new Breaker(60_000)
    let calls = 0
    const down = () => {
      calls++
      return Promise.reject(new MongoNetworkError('refused'))
    }
    await assert.rejects(guarded(down, { breaker }), StoreUnavailableError)
    assert.equal(breaker.open, true)
    await assert.rejects(guarded(down, { breaker }), StoreUnavailableError)
    assert.equal(calls, 1, 'the second operation never reached the driver')
    await assert.rejects(guarded(() => Promise.reject(new TypeError('bug')), { breaker: new Breaker(60_000) }), TypeError)
    breaker.reset()
    assert.equal(await guarded(async () => 'up', { breaker }), 'up')
    const off = new Breaker(0)
    await assert.rejects(guarded(down, { breaker: off }), StoreUnavailableError)
    assert.equal(off.open, false)
  })
})

describe('MongoDB adapter with an unreachable server', () => {
  let stores: Stores
  const { logger, lines } = memoryLogger()

  before(async () => {
    stores = await createMongoStores({ uri: UNREACHABLE, dbName: 'unreachable', serverSelectionTimeoutMS: 300, connectTimeoutMS: 300, clock, logger })
  })
  after(async () => {
    await stores.close()
  })

  it('starts anyway, warning that MongoDB is unreachable', () => {
    assert.equal(stores.persistent, true)
    assert.ok(lines.some((line) => line.level === 40 && /unreachable/.test(String(line.msg))))
  })

  it('fails every operation with StoreUnavailableError instead of hanging', async () => {
    const attempts: Promise<unknown>[] = [
      stores.conversations.create('alice', { title: 't' }),
      stores.conversations.get('alice', 'x'),
      stores.conversations.list('alice', { limit: 5 }),
      stores.conversations.update('alice', 'x', { title: 'y' }, 1),
      stores.conversations.delete('alice', 'x'),
      stores.conversations.appendMessage('alice', 'x', { role: 'user', content: 'hi' }),
      stores.conversations.listMessages('alice', 'x', { limit: 5 }),
      stores.memory.store('alice', { content: 'c' }),
      stores.memory.search('alice', { query: 'c', limit: 5 }),
      stores.memory.list('alice', { limit: 5 }),
      stores.memory.delete('alice', 'x'),
    ]
    for (const attempt of attempts) await assert.rejects(attempt, StoreUnavailableError)
  })

  it('rejects a bad cursor before touching the network', async () => {
    await assert.rejects(stores.conversations.list('alice', { limit: 5, cursor: 'garbage' }), { name: 'InvalidCursorError' })
  })

  it('registers a failing mongodb health check: /health says disconnected, /ready is 503, routes 503 + Retry-After', async () => {
    assert.equal(stores.health?.name, 'mongodb')
    await assert.rejects(stores.health!.check(new AbortController().signal))
    const { app } = await testApp({ deps: { stores } })
    const health = await app.request('/health')
    assert.equal(health.status, 503)
    assert.equal(((await health.json()) as { dependencies: Record<string, string> }).dependencies.mongodb, 'disconnected')
    assert.equal((await app.request('/ready')).status, 503)
    const res = await app.request('/api/v1/conversations', { method: 'POST', headers: { ...AUTH.alice, 'content-type': 'application/json' }, body: '{}' })
    assert.equal(res.status, 503)
    assert.equal(res.headers.get('retry-after'), '5')
    assert.equal(res.headers.get('content-type'), 'application/problem+json')
  })
})

describe('openStores', () => {
  it('returns the in-memory stores when no URI is configured', async () => {
    const config = await loadConfig({ env: {} })
    const stores = await openStores(config, { logger: memoryLogger().logger, clock })
    assert.equal(stores.persistent, false)
    assert.equal(stores.health, undefined)
    await stores.close()
  })

  it('reads MONGODB_OPERATION_TIMEOUT, 5 s unless set', async () => {
    assert.equal((await loadConfig({ env: {} })).mongodb.operation_timeout, 5000)
    assert.equal((await loadConfig({ env: { MONGODB_OPERATION_TIMEOUT: '2s' } })).mongodb.operation_timeout, 2000)
    await assert.rejects(loadConfig({ env: { MONGODB_OPERATION_TIMEOUT: 'soon' } }), /operation_timeout/)
  })

  it('opens the MongoDB adapter when MONGODB_URI is set', async () => {
    const config = await loadConfig({ env: { MONGODB_URI: UNREACHABLE, MONGODB_DB: 'other', MONGODB_SERVER_SELECTION_TIMEOUT: '200ms' } })
    const stores = await openStores(config, { logger: memoryLogger().logger, clock })
    try {
      assert.equal(stores.persistent, true)
      assert.equal(stores.health?.name, 'mongodb')
    } finally {
      await stores.close()
    }
  })
})
