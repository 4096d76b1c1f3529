import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConfigError, envName, loadConfig, parseDuration, parseSize, settingsTable, sha256Hex } from './index.ts'

/** The ConfigError a load throws, for assertions on its problems. */
async function rejection(sources: Parameters<typeof loadConfig>[0]): Promise<ConfigError> {
  try {
    await loadConfig(sources)
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error))
    return error
  }
  assert.fail('expected a ConfigError')
}

const yaml = (text: string) => ({ text, source: 'config/test.yaml' })

describe('loadConfig', () => {
  it('serves with built-in defaults alone', async () => {
    const config = await loadConfig()
    const server = config.server
    assert.equal(server.host, '0.0.0.0')
    assert.equal(server.port, 8080)
    assert.equal(server.read_timeout, 30_000)
    assert.equal(server.write_timeout, 30_000)
    assert.equal(server.idle_timeout, 120_000)
    assert.equal(server.shutdown_timeout, 30_000)
    assert.equal(server.max_request_body_size, 1024 * 1024)
    assert.equal(server.max_json_body_size, 64 * 1024)
    assert.equal(server.max_header_bytes, 16 * 1024)
    assert.equal(server.max_connections, 10_000)
    assert.equal(server.rate_limit.requests_per_minute, 60)
    assert.equal(server.rate_limit.burst, 10)
    assert.equal(server.tls.enabled, false)
    assert.equal(server.cors.max_age, 12 * 3_600_000)
    assert.equal(server.metrics.path, '/metrics')
    assert.equal(config.auth.mode, 'api_key')
    assert.deepEqual(config.auth.api_keys, [])
  })

  it('reads the Redis settings: unset by default, REDIS_URL checked, durations in ms', async () => {
    const defaults = await loadConfig()
    assert.equal(defaults.redis.url, null)
    assert.equal(defaults.redis.rate_limit_timeout, 75)
    assert.equal(defaults.server.rate_limit.instances, 1)
    const set = await loadConfig({ env: { REDIS_URL: 'redis://cache:6379/0', RATE_LIMIT_INSTANCES: '3', REDIS_COALESCE_WINDOW: '40ms' } })
    assert.deepEqual([set.redis.url, set.server.rate_limit.instances, set.redis.coalesce_window], ['redis://cache:6379/0', 3, 40])
    const error = await rejection({ env: { REDIS_URL: 'cache:6379' } })
    assert.match(error.message, /redis\.url \(from env REDIS_URL\): expected a redis:\/\/ or rediss:\/\/ URL/)
  })

  it('lays YAML over the defaults, keeping the keys it does not mention', async () => {
    const config = await loadConfig({
      yaml: yaml('server:\n  port: 9000\n  read_timeout: 2m\n  rate_limit:\n    burst: 3\n  cors:\n    allowed_origins: [https://a.example]\n'),
    })
    assert.equal(config.server.port, 9000)
    assert.equal(config.server.read_timeout, 120_000)
    assert.equal(config.server.rate_limit.burst, 3)
    assert.equal(config.server.rate_limit.requests_per_minute, 60)
    assert.deepEqual(config.server.cors.allowed_origins, ['https://a.example'])
    assert.equal(config.server.host, '0.0.0.0')
  })

  it('lays the environment over YAML', async () => {
    const config = await loadConfig({
      yaml: yaml('server:\n  port: 9000\n  host: 127.0.0.1\n'),
      env: { PORT: '9100' },
    })
    assert.equal(config.server.port, 9100)
    assert.equal(config.server.host, '127.0.0.1')
  })

  it('reads every key from its upper-snake-case env name, nested ones included', async () => {
    const config = await loadConfig({
      env: {
        HOST: '127.0.0.1',
        PORT: '3000',
        READ_TIMEOUT: '500ms',
        WRITE_TIMEOUT: '2m',
        IDLE_TIMEOUT: '30s',
        MAX_REQUEST_BODY_SIZE: '1MiB',
        MAX_HEADER_BYTES: '64KB',
        RATE_LIMIT_ENABLED: 'false',
        RATE_LIMIT_REQUESTS_PER_MINUTE: '120',
        RATE_LIMIT_BURST: '5',
        CORS_ALLOWED_ORIGINS: 'https://a.example, https://b.example',
        CORS_ALLOW_CREDENTIALS: 'true',
        TLS_ENABLED: 'true',
        TLS_CERT_FILE: '/etc/tls/cert.pem',
        TLS_KEY_FILE: '/etc/tls/key.pem',
        METRICS_PORT: '9090',
        LOG_LEVEL: 'debug',
        SECURITY_HSTS_MAX_AGE: '1h',
        TRUSTED_PROXIES: '10.0.0.0/8,192.168.0.1',
        AI_BASE_URL: 'https://api.example.com/v1',
        AI_MODEL: 'gpt-4o-mini',
      },
    })
    const server = config.server
    assert.equal(server.host, '127.0.0.1')
    assert.equal(server.port, 3000)
    assert.equal(server.read_timeout, 500)
    assert.equal(server.write_timeout, 120_000)
    assert.equal(server.idle_timeout, 30_000)
    assert.equal(server.max_request_body_size, 1_048_576)
    assert.equal(server.max_header_bytes, 64_000)
    assert.equal(server.rate_limit.enabled, false)
    assert.equal(server.rate_limit.requests_per_minute, 120)
    assert.equal(server.rate_limit.burst, 5)
    assert.deepEqual(server.cors.allowed_origins, ['https://a.example', 'https://b.example'])
    assert.equal(server.cors.allow_credentials, true)
    assert.equal(server.tls.enabled, true)
    assert.equal(server.tls.cert_file, '/etc/tls/cert.pem')
    assert.equal(server.tls.key_file, '/etc/tls/key.pem')
    assert.equal(server.metrics.port, 9090)
    assert.equal(server.log_level, 'debug')
    assert.equal(server.security.hsts.max_age, 3_600_000)
    assert.deepEqual(server.trusted_proxies, ['10.0.0.0/8', '192.168.0.1'])
    assert.equal(config.ai.base_url, 'https://api.example.com/v1')
  })

  it('hashes API_KEYS into user/digest pairs and never keeps the plain key', async () => {
    const config = await loadConfig({ env: { API_KEYS: 'alice:alice-key-0123456789, bob:bob-key-0123456789ab' } })
    assert.deepEqual(config.auth.api_keys, [
      { user: 'alice', sha256: await sha256Hex('alice-key-0123456789') },
      { user: 'bob', sha256: await sha256Hex('bob-key-0123456789ab') },
    ])
    assert.ok(!JSON.stringify(config).includes('alice-key-0123456789'))
  })

  it('rejects PORT=abc naming the key and the env variable', async () => {
    const error = await rejection({ env: { PORT: 'abc' } })
    assert.equal(error.problems.length, 1)
    assert.match(error.problems[0], /^server\.port \(from env PORT\): /)
    assert.match(error.message, /server\.port/)
  })

  it('rejects RATE_LIMIT_BURST=-1 naming the nested key', async () => {
    const error = await rejection({ env: { RATE_LIMIT_BURST: '-1' } })
    assert.match(error.problems.join('\n'), /server\.rate_limit\.burst \(from env RATE_LIMIT_BURST\): .*/)
  })

  it('rejects an unknown YAML key naming its path and the file', async () => {
    const error = await rejection({ yaml: yaml('server:\n  rate_limit:\n    bursts: 3\n') })
    assert.deepEqual(error.problems, ['server.rate_limit.bursts (from config/test.yaml): unknown key'])
  })

  it('reports every problem at once, with the source of each', async () => {
    const error = await rejection({
      yaml: yaml('server:\n  read_timeout: soon\n'),
      env: { TLS_ENABLED: 'maybe', MAX_REQUEST_BODY_SIZE: '10 parsecs', API_KEYS: 'alice:short' },
    })
    const text = error.problems.join('\n')
    assert.match(text, /server\.read_timeout \(from config\/test\.yaml\): invalid duration/)
    assert.match(text, /server\.tls\.enabled \(from env TLS_ENABLED\)/)
    assert.match(text, /server\.max_request_body_size \(from env MAX_REQUEST_BODY_SIZE\): invalid size/)
    assert.match(text, /auth\.api_keys\[0\] \(env API_KEYS\): the key for alice is shorter than 16 characters/)
  })

  it('rejects YAML that does not parse or is not a mapping', async () => {
    assert.match((await rejection({ yaml: yaml('server: [unclosed') })).problems[0], /^config\/test\.yaml: not valid YAML/)
    assert.match((await rejection({ yaml: yaml('- a list') })).problems[0], /top level must be a mapping/)
  })

  it('rejects a CORS origin with a path', async () => {
    const error = await rejection({ env: { CORS_ALLOWED_ORIGINS: 'https://a.example/app' } })
    assert.match(error.problems[0], /^server\.cors\.allowed_origins\.0 \(from env CORS_ALLOWED_ORIGINS\)/)
  })

  it('requires AI_MODEL when AI_BASE_URL points at an endpoint', async () => {
    const error = await rejection({ env: { AI_BASE_URL: 'http://127.0.0.1:11434/v1' } })
    assert.match(error.problems[0], /^ai\.model: set ai\.model \(AI_MODEL\)/)
  })

  it("rejects '*' together with credentials, naming the origins key", async () => {
    const error = await rejection({ env: { CORS_ALLOWED_ORIGINS: '*', CORS_ALLOW_CREDENTIALS: 'true' } })
    assert.match(error.problems[0], /^server\.cors\.allowed_origins \(from env CORS_ALLOWED_ORIGINS\): '\*' cannot be combined/)
  })
})

describe('env naming rule', () => {
  it('is the key path below server: in upper snake case; other sections keep their name', () => {
    assert.equal(envName(['server', 'rate_limit', 'burst']), 'RATE_LIMIT_BURST')
    assert.equal(envName(['server', 'cors', 'allowed_origins']), 'CORS_ALLOWED_ORIGINS')
    assert.equal(envName(['server', 'tls', 'enabled']), 'TLS_ENABLED')
    assert.equal(envName(['server', 'port']), 'PORT')
    assert.equal(envName(['ai', 'base_url']), 'AI_BASE_URL')
    const table = settingsTable()
    assert.ok(table.some((row) => row.env === 'METRICS_PORT' && row.path === 'server.metrics.port'))
    assert.equal(new Set(table.map((row) => row.env)).size, table.length, 'env names are unique')
  })
})

describe('units', () => {
  it('parses durations', () => {
    assert.equal(parseDuration('30s'), 30_000)
    assert.equal(parseDuration('2m'), 120_000)
    assert.equal(parseDuration('500ms'), 500)
    assert.equal(parseDuration('1m30s'), 90_000)
    assert.equal(parseDuration('1500'), 1500)
    assert.equal(parseDuration('soon'), undefined)
    assert.equal(parseDuration('-1s'), undefined)
  })

  it('parses sizes', () => {
    assert.equal(parseSize('10MiB'), 10_485_760)
    assert.equal(parseSize('64KB'), 64_000)
    assert.equal(parseSize('1048576'), 1_048_576)
    assert.equal(parseSize('1 GiB'), 1_073_741_824)
    assert.equal(parseSize('10 parsecs'), undefined)
  })
})
