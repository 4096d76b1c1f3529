import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { assertProblem, read, runE2E, type E2ETarget } from '../e2e/suite.ts'
import { firstAnswer, ROOT, RUNTIMES, runScript, spawnRuntime, startRuntime, waitForOutput, type RunningServer } from '../helpers/runtimes.ts'

const USERS = {
  alice: { id: 'alice', key: 'alice-e2e-key-0123456789' },
  bob: { id: 'bob', key: 'bob-e2e-key-0123456789abc' },
}

/** The same settings on every runtime, as environment variable names (vars on Workers). */
const ENV = {
  API_KEYS: `${USERS.alice.id}:${USERS.alice.key},${USERS.bob.id}:${USERS.bob.key}`,
  // A large bucket that barely refills: the suite never hits 429, and each request visibly spends a token.
  // The suite checks X-RateLimit-Limit against it, which proves the runtime read its settings.
  RATE_LIMIT_BURST: '997',
  RATE_LIMIT_REQUESTS_PER_MINUTE: '1',
  LOG_LEVEL: 'warn',
  // The built-in model sends one word per chunk at this pace, so a 60-word message keeps a reply
  // running for a few seconds: long enough to resume and stop it mid-way, short enough for four runtimes.
  AI_BUILTIN_CHUNK_DELAY: '25ms',
}

before(async () => {
  // `node dist/node.js` is what the Docker image runs, so the runner builds it the same way.
  const build = await runScript('build')
  assert.equal(build.code, 0, `npm run build failed:\n${build.output}`)
  assert.ok(existsSync(join(ROOT, 'dist/node.js')))
})

// One runtime at a time: the machine is small, and the suite is about behaviour, not speed.
for (const spec of RUNTIMES) {
  describe(`runtime: ${spec.name}`, () => {
    let server: RunningServer | undefined

    before(async () => {
      server = await startRuntime(spec, { env: ENV })
    })

    after(async () => {
      await server?.stop()
    })

    const target = (): E2ETarget => {
      if (!server) throw new Error(`${spec.name} is not running`)
      return { baseUrl: server.baseUrl, runtime: spec.name, users: USERS, metrics: spec.metrics, rateLimitBurst: Number(ENV.RATE_LIMIT_BURST), crossRequestIo: spec.crossRequestIo }
    }
    runE2E(target)

    it('closes gracefully on SIGTERM (exit code 0)', async () => {
      const running = server!
      server = undefined
      const code = await running.stop()
      assert.equal(code, 0, `exit ${code}\n--- output ---\n${running.output()}`)
    })

    it(`refuses a bad setting, naming it (${spec.onBadConfig})`, async () => {
      const bad = await spawnRuntime(spec, { ...ENV, RATE_LIMIT_BURST: 'plenty' })
      try {
        if (spec.onBadConfig === 'exit 2') {
          const late = new Promise<string>((wake) => setTimeout(wake, 30_000, 'still running after 30 s').unref())
          assert.equal(await Promise.race([bad.exited, late]), 2)
        } else {
          const res = await firstAnswer(bad, '/health')
          assertProblem(await read(res), 500)
        }
        // A Worker's console reaches wrangler's output a moment after the response.
        assert.match(await waitForOutput(bad, /rate_limit\.burst.*RATE_LIMIT_BURST/), /rate_limit\.burst.*RATE_LIMIT_BURST/)
      } finally {
        await bad.stop()
      }
    })
  })
}
