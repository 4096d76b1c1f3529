import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AUTH, testApp } from '../../../test/helpers/app.ts'
import { systemClock } from '../../kernel/clock.ts'
import { MemoryBucketStore, clientAddress, parseRanges } from './index.ts'

const START = 1_700_000_000_000

/** A clock the test moves by hand. */
function fakeClock() {
  const clock = { ...systemClock, t: START, now: () => clock.t }
  return clock
}

/** The whole app with limiting on; the socket peer comes from the test-only `x-test-peer` header. */
async function limitedApp(env: Record<string, string> = {}) {
  const clock = fakeClock()
  const built = await testApp({
    env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_BURST: '2', RATE_LIMIT_REQUESTS_PER_MINUTE: '60', ...env },
    deps: { clock, peerAddress: (c) => c.req.header('x-test-peer') },
  })
  return { ...built, clock }
}

function from(peer: string, headers: Record<string, string> = {}) {
  return { headers: { 'x-test-peer': peer, ...headers } }
}

describe('rateLimit', () => {
  it('limits requests with a valid key per principal, whatever address they come from', async () => {
    const { app } = await limitedApp()
    assert.equal((await app.request('/api/v1/me', from('192.0.2.1', AUTH.alice))).status, 200)
    assert.equal((await app.request('/api/v1/me', from('192.0.2.2', AUTH.alice))).status, 200)
    assert.equal((await app.request('/api/v1/me', from('192.0.2.3', AUTH.alice))).status, 429)
    // Bob has his own bucket, even from Alice's address.
    assert.equal((await app.request('/api/v1/me', from('192.0.2.1', AUTH.bob))).status, 200)
  })

  it('limits requests without a valid key per peer address', async () => {
    const { app } = await limitedApp()
    assert.equal((await app.request('/api/v1/me', from('192.0.2.1'))).status, 401)
    assert.equal((await app.request('/api/v1/me', from('192.0.2.1', { authorization: 'Bearer wrong-key-000000000' }))).status, 401)
    assert.equal((await app.request('/api/v1/me', from('192.0.2.1'))).status, 429)
    assert.equal((await app.request('/api/v1/me', from('192.0.2.2'))).status, 401)
    // IPv4-mapped IPv6 is the same client.
    assert.equal((await app.request('/api/v1/me', from('::ffff:192.0.2.1'))).status, 429)
  })

  it('ignores X-Forwarded-For from an untrusted peer: rotating it buys no fresh bucket', async () => {
    const { app } = await limitedApp()
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) {
      const res = await app.request('/api/v1/me', from('198.51.100.7', { 'x-forwarded-for': `203.0.113.${i}` }))
      statuses.push(res.status)
    }
    assert.deepEqual(statuses, [401, 401, 429, 429, 429])
  })

  it('behind a trusted proxy, gives each forwarded client its own bucket and ignores spoofed left entries', async () => {
    const { app } = await limitedApp({ TRUSTED_PROXIES: '10.0.0.0/8' })
    const proxy = '10.1.2.3'
    const a = (xff: string) => app.request('/api/v1/me', from(proxy, { 'x-forwarded-for': xff }))
    assert.equal((await a('203.0.113.1')).status, 401)
    assert.equal((await a('203.0.113.1')).status, 401)
    assert.equal((await a('203.0.113.1')).status, 429)
    // A different client behind the same proxy.
    assert.equal((await a('203.0.113.2')).status, 401)
    // The client adds its own entries on the left; the proxy appends the real address on the right.
    assert.equal((await a('1.1.1.1, 203.0.113.1')).status, 429)
    assert.equal((await a('8.8.8.8, 203.0.113.1')).status, 429)
  })

  it('sends X-RateLimit-Limit/Remaining/Reset on every limited response, and Retry-After on the 429', async () => {
    const { app, clock } = await limitedApp()
    const first = await app.request('/api/v1/me', from('192.0.2.9', AUTH.alice))
    assert.equal(first.headers.get('x-ratelimit-limit'), '2')
    assert.equal(first.headers.get('x-ratelimit-remaining'), '1')
    // One token spent at 1 token/s: full again in one second, in unix seconds.
    assert.equal(first.headers.get('x-ratelimit-reset'), String(Math.ceil((clock.t + 1000) / 1000)))
    assert.equal(first.headers.get('retry-after'), null)

    const unauthorized = await app.request('/api/v1/me', from('192.0.2.9'))
    assert.equal(unauthorized.status, 401)
    assert.equal(unauthorized.headers.get('x-ratelimit-limit'), '2')

    await app.request('/api/v1/me', from('192.0.2.9', AUTH.alice))
    const limited = await app.request('/api/v1/me', from('192.0.2.9', AUTH.alice))
    assert.equal(limited.status, 429)
    assert.equal(limited.headers.get('content-type'), 'application/problem+json')
    assert.equal(limited.headers.get('x-ratelimit-limit'), '2')
    assert.equal(limited.headers.get('x-ratelimit-remaining'), '0')
    assert.equal(limited.headers.get('x-ratelimit-reset'), String(Math.ceil((clock.t + 2000) / 1000)))
    assert.equal(limited.headers.get('retry-after'), '1')
    const body = await limited.json()
    assert.equal(body.status, 429)
    assert.equal(body.request_id, limited.headers.get('x-request-id'))
  })

  it('refills with time (fake clock)', async () => {
    const { app, clock } = await limitedApp()
    const me = () => app.request('/api/v1/me', from('192.0.2.1', AUTH.alice))
    await me()
    await me()
    assert.equal((await me()).status, 429)
    clock.t += 999
    assert.equal((await me()).status, 429)
    clock.t += 1
    assert.equal((await me()).status, 200)
    assert.equal((await me()).status, 429)
    clock.t += 60_000
    assert.equal((await me()).status, 200)
    assert.equal((await me()).status, 200)
    assert.equal((await me()).status, 429)
  })

  it('has a global bucket that limits all clients together', async () => {
    const { app } = await limitedApp({ RATE_LIMIT_BURST: '100', RATE_LIMIT_GLOBAL_BURST: '3', RATE_LIMIT_GLOBAL_REQUESTS_PER_SECOND: '1' })
    const statuses: number[] = []
    for (const [peer, auth] of [['192.0.2.1', AUTH.alice], ['192.0.2.2', AUTH.bob], ['192.0.2.3', {}], ['192.0.2.4', {}]] as const) {
      statuses.push((await app.request('/api/v1/me', from(peer, auth))).status)
    }
    assert.deepEqual(statuses, [200, 200, 401, 429])
    const last = await app.request('/api/v1/me', from('192.0.2.5', AUTH.alice))
    assert.equal(last.status, 429)
    assert.ok(last.headers.get('retry-after'))
  })

  it('never limits /health, /ready, /live and /metrics', async () => {
    const { app } = await limitedApp({ RATE_LIMIT_BURST: '1' })
    for (let i = 0; i < 5; i++) {
      for (const path of ['/health', '/ready', '/live', '/metrics']) {
        const res = await app.request(path, from('192.0.2.1'))
        assert.equal(res.status, 200, `${path} #${i}`)
        assert.equal(res.headers.get('x-ratelimit-limit'), null)
      }
    }
    assert.equal((await app.request('/api/v1/me', from('192.0.2.1', AUTH.alice))).status, 200)
  })

  it('is off when RATE_LIMIT_ENABLED is false', async () => {
    const { app } = await limitedApp({ RATE_LIMIT_ENABLED: 'false', RATE_LIMIT_BURST: '1' })
    for (let i = 0; i < 3; i++) {
      const res = await app.request('/api/v1/me', from('192.0.2.1', AUTH.alice))
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('x-ratelimit-limit'), null)
    }
  })
})

describe('clientAddress', () => {
  const trusted = parseRanges(['10.0.0.0/8', '2001:db8::/32'])
  it('is the peer unless the peer is trusted', () => {
    assert.equal(clientAddress('192.0.2.1', '203.0.113.9', trusted), '192.0.2.1')
    assert.equal(clientAddress('10.0.0.1', '203.0.113.9', trusted), '203.0.113.9')
    assert.equal(clientAddress('10.0.0.1', '203.0.113.9, 10.0.0.2', trusted), '203.0.113.9')
    assert.equal(clientAddress('10.0.0.1', null, trusted), '10.0.0.1')
    assert.equal(clientAddress('10.0.0.1', 'garbage', trusted), '10.0.0.1')
    assert.equal(clientAddress('2001:db8::1', '203.0.113.9', trusted), '203.0.113.9')
    assert.equal(clientAddress(undefined, '203.0.113.9', trusted), 'unknown')
  })
})

describe('MemoryBucketStore', () => {
  it('keeps at most maxKeys buckets', () => {
    const clock = fakeClock()
    const store = new MemoryBucketStore({ clock, maxKeys: 10 })
    for (let i = 0; i < 50; i++) store.take(`k${i}`, { capacity: 5, refillPerSecond: 1 })
    assert.ok(store.size <= 10)
  })
})
