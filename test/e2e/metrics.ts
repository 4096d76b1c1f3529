import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assertProblem, call, type TargetRef } from './client.ts'

/** A line of the Prometheus text exposition format: a comment, or `name{labels} value [timestamp]`. */
const EXPOSITION_LINE = /^(#.*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? -?[0-9.eE+-]+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (NaN|[+-]Inf)( -?\d+)?)$/

/** `/metrics` where the runtime serves it: Prometheus text, public, not rate limited. */
export function metricsChecks(target: TargetRef): void {
  describe('metrics', () => {
    it('GET /metrics serves the Prometheus text format without an API key', async (t) => {
      if (!target().metrics) {
        // Not a skip: a runtime without metrics must answer a plain 404 problem, not something odd.
        assertProblem(await call(target(), '/metrics'), 404)
        return
      }
      const res = await call(target(), '/metrics')
      assert.equal(res.status, 200, res.text)
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
      assert.equal(res.headers.get('x-ratelimit-limit'), null)
      for (const line of res.text.split('\n').filter((l) => l.trim() !== '')) {
        assert.match(line, EXPOSITION_LINE, `not Prometheus text: ${line}`)
      }
      t.diagnostic(`${res.text.split('\n').filter((l) => l.startsWith('# TYPE')).length} metric families`)
    })
  })
}
