import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ROOT, RUNTIMES, runScript, startRuntime, type RunningServer, type RuntimeSpec } from '../helpers/runtimes.ts'

const KEY = 'alice-fault-key-0123456789'
const FIXTURE = 'test/fixtures/throwing-tracer.ts'

/**
 * Each runtime's start command with a tracer that throws on every call loaded first. Everything else
 * is the shipped defaults, but the key the test needs (the generated one would have to be fished out
 * of stderr).
 */
function withFaultyTracer(spec: RuntimeSpec): RuntimeSpec {
  return {
    ...spec,
    command: (port, env, scratch) => {
      const { file, args } = spec.command(port, env, scratch)
      if (spec.name === 'node') return { file, args: ['--import', `./${FIXTURE}`, ...args] }
      if (spec.name === 'bun') return { file, args: [args[0], '--preload', `./${FIXTURE}`, ...args.slice(1)] }
      if (spec.name === 'deno') return { file, args: [args[0], '--preload', FIXTURE, ...args.slice(1)] }
      // wrangler dev takes the Worker's entry as its first argument, over wrangler.toml's `main`.
      return { file, args: [args[0], 'test/fixtures/throwing-tracer-worker.ts', ...args.slice(1)] }
    },
  }
}

before(async () => {
  const build = await runScript('build')
  assert.equal(build.code, 0, build.output)
  assert.ok(existsSync(join(ROOT, 'dist/node.js')))
})

for (const spec of RUNTIMES) {
  describe(`an observer that throws on every request (${spec.name})`, () => {
    let server: RunningServer | undefined
    before(async () => {
      server = await startRuntime(withFaultyTracer(spec), { env: { API_KEYS: `alice:${KEY}` } })
    })
    after(async () => {
      await server?.stop()
    })
    const auth = { authorization: `Bearer ${KEY}` }

    it('answers every kind of request unchanged and keeps serving', async () => {
      const base = server!.baseUrl
      // Two rounds: 8 authenticated requests stay within the shipped burst of 10.
      for (let round = 0; round < 2; round++) {
        const health = await fetch(`${base}/health`)
        assert.equal(health.status, 200)
        assert.equal((await health.json()).status, 'healthy')
        const me = await fetch(`${base}/api/v1/me`, { headers: auth })
        assert.deepEqual(await me.json(), { id: 'alice' })
        const missing = await fetch(`${base}/api/v1/nope`, { headers: auth })
        assert.equal(missing.status, 404)
        assert.equal((await missing.json()).status, 404)
        const chat = await fetch(`${base}/api/v1/chat`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ message: `hello ${round}` }),
        })
        assert.equal(chat.status, 200)
        assert.match((await chat.json()).message, new RegExp(`hello ${round}`))
        const stream = await fetch(`${base}/api/v1/chat/stream`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ message: 'stream please' }),
        })
        assert.equal(stream.status, 200)
        assert.match(await stream.text(), /event: done/)
        const page = await fetch(`${base}/`)
        assert.equal(page.status, 200)
        await page.text()
      }
      assert.equal((await fetch(`${base}/live`)).status, 200, 'still serving')
    })

    it('logs the failure once, not once per request', async () => {
      const output = server!.output()
      const failures = output.match(/tracing failed; the response went out unchanged/g) ?? []
      assert.equal(failures.length, 1, output.slice(-4000))
    })
  })
}
