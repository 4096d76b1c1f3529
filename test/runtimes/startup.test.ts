import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { join } from 'node:path'
import { firstAnswer, freePort, ROOT, RUNTIMES, spawnRuntime, type RuntimeSpec } from '../helpers/runtimes.ts'

/** Node on the sources (`npm start`'s entrypoint), so nothing needs building first. */
const NODE_SOURCES: RuntimeSpec = { ...RUNTIMES[0], binaries: ['node'], command: () => ({ file: join(ROOT, 'node_modules/.bin/node'), args: ['src/runtimes/node.ts'] }) }
const PROCESS_RUNTIMES = [NODE_SOURCES, ...RUNTIMES.filter((r) => r.name === 'bun' || r.name === 'deno')]

/** A listener holding a loopback port, as another program would. */
async function occupy(): Promise<{ port: number; server: Server }> {
  const port = await freePort()
  const server = createServer()
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve()))
  return { port, server }
}

describe('start-up on a port already in use', () => {
  let taken: { port: number; server: Server }
  before(async () => {
    taken = await occupy()
  })
  after(() => taken.server.close())

  // Every process runtime: one line on stderr naming host and port, exit code 1, no stack.
  for (const spec of PROCESS_RUNTIMES) {
    it(`${spec.name}: one line naming 127.0.0.1:<port>, exit code 1`, async () => {
      const server = await spawnRuntime(spec, { PORT: String(taken.port), API_KEYS: 'alice:alice-startup-key-0123456789' })
      const late = new Promise<string>((wake) => setTimeout(wake, 30_000, 'still running after 30 s').unref())
      try {
        assert.equal(await Promise.race([server.exited, late]), 1, server.output())
        const errors = server.errors().split('\n').filter((line) => line.trim() !== '')
        assert.deepEqual(errors, [`assistant-server: cannot listen on 127.0.0.1:${taken.port}: the address is already in use`], server.output())
        assert.doesNotMatch(server.output(), /uncaught|\n\s+at /i)
      } finally {
        await server.stop()
      }
    })
  }
})

describe('the generated development key', () => {
  for (const spec of PROCESS_RUNTIMES) {
    it(`${spec.name}: is shown on stderr even at LOG_LEVEL=error, and it works`, async () => {
      // LOG_LEVEL=error is what this test is about: the key must reach stderr even when info lines do not.
      const server = await spawnRuntime(spec, { LOG_LEVEL: 'error' })
      try {
        const res = await firstAnswer(server, '/health')
        assert.equal(res.status, 200)
        const [, key] = /development key for this run \(user "dev"\): (\S+)/.exec(server.errors()) ?? []
        assert.ok(key, `no key on stderr:\n${server.output()}`)
        assert.equal(server.logLines().length, 0, 'nothing is logged at error level')
        const me = await fetch(`${server.baseUrl}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } })
        assert.equal(me.status, 200)
        assert.deepEqual(await me.json(), { id: 'dev' })
      } finally {
        await server.stop()
      }
    })
  }

  it('is logged too at the default level, the same key', async () => {
    const server = await spawnRuntime(NODE_SOURCES, {})
    try {
      assert.equal((await firstAnswer(server, '/health')).status, 200)
      const logged = server.logLines().find((line) => /development key/.test(String(line.msg)))
      assert.ok(logged, server.output())
      assert.equal(logged.level, 40)
      assert.ok(server.errors().includes(String(logged.msg)), 'the same line on stderr')
    } finally {
      await server.stop()
    }
  })
})
