import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AUTH, KEYS, memoryLogger, testApp } from '../../../test/helpers/app.ts'
import { createApp } from '../../app.ts'
import { loadConfig, sha256Hex } from '../../config/index.ts'
import { buildDeps } from '../../deps.ts'
import { appWith, FORMS } from '../../../test/helpers/forms.ts'
import { requestId } from '../request-id/index.ts'
import { Authenticator, auth, bearerToken } from './index.ts'

async function assertUnauthorized(res: Response, detail: RegExp) {
  assert.equal(res.status, 401)
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer( |$)/)
  assert.equal(res.headers.get('content-type'), 'application/problem+json')
  const body = await res.json()
  assert.equal(body.status, 401)
  assert.match(body.detail, detail)
  assert.equal(body.request_id, res.headers.get('x-request-id'))
}

describe('auth', () => {
  it('answers a missing key with 401, WWW-Authenticate: Bearer and a problem body', async () => {
    const { app } = await testApp()
    await assertUnauthorized(await app.request('/api/v1/me'), /Authorization: Bearer/)
  })

  it('answers a wrong or malformed key with 401', async () => {
    const { app } = await testApp()
    for (const authorization of [
      `Bearer ${KEYS.alice}x`,
      `Bearer ${KEYS.alice.slice(0, -1)}`,
      `Basic ${btoa('alice:pw')}`,
      KEYS.alice,
      'Bearer',
      `Bearer ${'a'.repeat(600)}`,
    ]) {
      await assertUnauthorized(await app.request('/api/v1/me', { headers: { authorization } }), /not valid|Bearer/)
    }
  })

  it('takes keys from API_KEYS and puts the principal on c.var.user', async () => {
    const { app } = await testApp()
    const alice = await app.request('/api/v1/me', { headers: AUTH.alice })
    assert.deepEqual(await alice.json(), { id: 'alice' })
    const bob = await app.request('/api/v1/me', { headers: { authorization: `bearer   ${KEYS.bob}` } })
    assert.deepEqual(await bob.json(), { id: 'bob' })
  })

  it('accepts keys configured in YAML as SHA-256 digests', async () => {
    const key = 'carol-yaml-key-0123456789'
    const yaml = `auth:\n  api_keys:\n    - user: carol\n      sha256: ${await sha256Hex(key)}\n`
    const config = await loadConfig({ yaml: { text: yaml, source: 'test.yaml' } })
    const app = createApp(buildDeps({ config, logger: memoryLogger().logger }))
    const res = await app.request('/api/v1/me', { headers: { authorization: `Bearer ${key}` } })
    assert.deepEqual(await res.json(), { id: 'carol' })
    assert.equal((await app.request('/api/v1/me', { headers: AUTH.alice })).status, 401)
  })

  it('is never open when no key is configured', async () => {
    const { app } = await testApp({ env: { API_KEYS: '' } })
    assert.equal((await app.request('/api/v1/me', { headers: AUTH.alice })).status, 401)
    assert.equal((await app.request('/api/v1/me', { headers: { authorization: 'Bearer ' } })).status, 401)
  })

  it('leaves the public paths open', async () => {
    const { app } = await testApp()
    for (const path of ['/health', '/ready', '/live', '/metrics']) {
      assert.equal((await app.request(path)).status, 200, path)
    }
  })

  it('is off only with an explicit auth.mode none, and the principal is then anonymous', async () => {
    const { app } = await testApp({ env: { AUTH_MODE: 'none', API_KEYS: '' } })
    const res = await app.request('/api/v1/me')
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { id: 'anonymous' })
    const { config } = await testApp({ env: { API_KEYS: '' } })
    assert.equal(config.auth.mode, 'api_key')
  })
})

for (const form of FORMS) {
  describe(`auth (${form})`, () => {
    const build = async () => {
      const authenticator = new Authenticator({ mode: 'api_key', api_keys: [{ user: 'alice', sha256: await sha256Hex(KEYS.alice) }] })
      return appWith(form, [requestId(), auth({ authenticator })], (app) => {
        app.get('/me', (c) => c.json({ id: c.var.user.id }))
      })
    }

    it('lets a valid key through to a plain c.json() handler with c.var.user set', async () => {
      const res = await (await build()).request('/me', { headers: AUTH.alice })
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), { id: 'alice' })
    })

    it('answers a missing or wrong key itself with the 401 problem, even with Hono\'s own error handler', async () => {
      const app = await build()
      await assertUnauthorized(await app.request('/me'), /Authorization: Bearer/)
      await assertUnauthorized(await app.request('/me', { headers: AUTH.bob }), /not valid/)
    })

    it('never reads ?token= unless allowQueryToken is set (the WebSocket route)', async () => {
      assert.equal((await (await build()).request(`/me?token=${KEYS.alice}`)).status, 401)
      const authenticator = new Authenticator({ mode: 'api_key', api_keys: [{ user: 'alice', sha256: await sha256Hex(KEYS.alice) }] })
      const ws = appWith(form, [requestId(), auth({ authenticator, allowQueryToken: true })], (app) => {
        app.get('/ws', (c) => c.json({ id: c.var.user.id }))
      })
      assert.deepEqual(await (await ws.request(`/ws?token=${KEYS.alice}`)).json(), { id: 'alice' })
      await assertUnauthorized(await ws.request('/ws?token=nope-nope-nope-nope'), /not valid/)
      await assertUnauthorized(await ws.request('/ws'), /\?token=/)
    })
  })
}

describe('bearerToken', () => {
  it('extracts the token of a Bearer header and nothing else', () => {
    assert.equal(bearerToken('Bearer abc.DEF_~+/=-'), 'abc.DEF_~+/=-')
    assert.equal(bearerToken('bearer\tabc'), 'abc')
    assert.equal(bearerToken('Bearer a b'), null)
    assert.equal(bearerToken('Token abc'), null)
    assert.equal(bearerToken(null), null)
  })
})
