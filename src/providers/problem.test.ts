import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ProviderError } from './ports.ts'
import { providerProblem } from './problem.ts'

describe('providerProblem', () => {
  it('maps provider failures to gateway statuses with the safe message and the provider code', () => {
    assert.equal(providerProblem(new ProviderError('timeout', 'slow')).status, 504)
    const busy = providerProblem(new ProviderError('rate_limited', 'busy', { upstreamStatus: 429 }))
    assert.equal(busy.status, 503)
    assert.equal(busy.headers?.['retry-after'], '5')
    assert.deepEqual(busy.extensions, { code: 'rate_limited' })
    const down = providerProblem(new ProviderError('unavailable', 'down'))
    assert.equal(down.status, 503)
    assert.equal(down.headers?.['retry-after'], '5')
    const failed = providerProblem(new ProviderError('upstream_error', 'The AI service failed'))
    assert.equal(failed.status, 502)
    assert.equal(failed.detail, 'The AI service failed')
    assert.equal(failed.headers, undefined)
    assert.equal(providerProblem(new ProviderError('invalid_response', 'junk')).status, 502)
    assert.equal(providerProblem(new ProviderError('bad_request', 'rejected')).status, 502)
  })
})
