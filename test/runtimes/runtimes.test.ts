import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { assertProblem, earlyAnswerChecks, read, runE2E, type E2ETarget } from '../e2e/suite.ts'
import { firstAnswer, ROOT, RUNTIMES, runScript, spawnRuntime, startRuntime, waitForOutput, type RunningServer } from '../helpers/runtimes.ts'

const USERS = {
  alice: { id: 'alice', key: 'alice-e2e-key-0123456789' },
  bob: { id: 'bob', key: 'bob-e2e-key-0123456789abc' },
}

/**
 * What the suite changes of the shipped defaults, the same on every runtime (environment variables;
 * vars on Workers). Everything else stays at its default: logging at `info` (each server writes its
 * log to a file, `RunningServer.logFile`, which checks read), the body limit, timeouts, the built-in
 * model's pace, WebSocket limits. Each override is here because the suite cannot run without it:
 */
const ENV = {
  // Two users, so checks can tell callers apart and prove that one cannot see the other's data. With
  // no keys the server makes one development key per process (per isolate on Workers): one user only.
  API_KEYS: `${USERS.alice.id}:${USERS.alice.key},${USERS.bob.id}:${USERS.bob.key}`,
  // The suite sends a few hundred requests a minute per user; the default bucket (burst 10, 60 a
  // minute) would answer most of them 429. A large bucket that barely refills: never 429, and each
  // request visibly spends a token. The suite checks X-RateLimit-Limit against it, which also proves
  // the runtime read its settings.
  RATE_LIMIT_BURST: '997',
  RATE_LIMIT_REQUESTS_PER_MINUTE: '1',
  // Likewise the per-user chat start budget (burst 10, 20 a minute): the suite starts a few dozen
  // chats per user within seconds. The running cap (CHAT_MAX_ACTIVE_PER_USER) stays at its default.
  CHAT_START_BURST: '500',
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
      const running = server
      return {
        baseUrl: running.baseUrl,
        runtime: spec.name,
        users: USERS,
        metrics: spec.metrics,
        rateLimitBurst: Number(ENV.RATE_LIMIT_BURST),
        crossRequestIo: spec.crossRequestIo,
        logLines: () => running.logLines(),
      }
    }
    runE2E(target)
    earlyAnswerChecks(target)

    it('logged every request at info, and no error or fatal line', () => {
      const lines = server!.logLines()
      assert.ok(lines.filter((line) => line.msg === 'request completed' && line.level === 30).length > 50, server!.output())
      const failures = lines.filter((line) => line.level >= 50 && !/chat generation failed/.test(String(line.msg)))
      assert.deepEqual(failures, [], 'nothing failed on the server')
    })

    it('closes gracefully on SIGTERM (exit code 0)', async () => {
      const running = server!
      server = undefined
      const output = running.output()
      const code = await running.stop()
      assert.equal(code, 0, `exit ${code}\n--- output ---\n${output}`)
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
