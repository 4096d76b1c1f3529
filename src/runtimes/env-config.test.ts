import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadConfig } from '../config/index.ts'
import { unsupportedSettings } from './env-config.ts'

const config = (env: Record<string, string>) => loadConfig({ env: { TLS_CERT_FILE: 'c.pem', TLS_KEY_FILE: 'k.pem', ...env } })

describe('unsupportedSettings', () => {
  it('the defaults run everywhere', async () => {
    const defaults = await loadConfig()
    for (const runtime of ['node', 'bun', 'deno', 'workers'] as const) assert.deepEqual(unsupportedSettings(defaults, runtime), [])
  })

  it('Node honours every setting', async () => {
    const everything = await config({ TLS_ENABLED: 'true', ENABLE_HTTP2: 'true', METRICS_PORT: '9100', MONGODB_URI: 'mongodb://db:27017' })
    assert.deepEqual(unsupportedSettings(everything, 'node'), [])
  })

  it('Bun and Deno refuse TLS, HTTP/2 and a metrics port, naming key and env variable', async () => {
    const asked = await config({ TLS_ENABLED: 'true', ENABLE_HTTP2: 'true', METRICS_PORT: '9100', MONGODB_URI: 'mongodb://db:27017' })
    for (const runtime of ['bun', 'deno'] as const) {
      const problems = unsupportedSettings(asked, runtime)
      assert.equal(problems.length, 3, problems.join('\n'))
      assert.match(problems[0], /^server\.tls\.enabled \(env TLS_ENABLED\)/)
      assert.match(problems[1], /^server\.enable_http2 \(env ENABLE_HTTP2\)/)
      assert.match(problems[2], /^server\.metrics\.port \(env METRICS_PORT\)/)
    }
  })

  it('a metrics port is fine when metrics are off', async () => {
    assert.deepEqual(unsupportedSettings(await config({ METRICS_PORT: '9100', METRICS_ENABLED: 'false' }), 'bun'), [])
  })

  it('Workers refuse Redis: jobs, fan-out and rate limits stay per isolate there', async () => {
    const problems = unsupportedSettings(await config({ REDIS_URL: 'redis://cache:6379' }), 'workers')
    assert.equal(problems.length, 1)
    assert.match(problems[0], /^redis\.url \(env REDIS_URL\): Workers keep jobs/)
    for (const runtime of ['node', 'bun', 'deno'] as const) assert.deepEqual(unsupportedSettings(await config({ REDIS_URL: 'redis://cache:6379' }), runtime), [])
  })

  it('Workers refuse MongoDB as well', async () => {
    const problems = unsupportedSettings(await config({ MONGODB_URI: 'mongodb://db:27017' }), 'workers')
    assert.equal(problems.length, 1)
    assert.match(problems[0], /^mongodb\.uri \(env MONGODB_URI\): MongoDB is not available on Workers/)
  })
})
