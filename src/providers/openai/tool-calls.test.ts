import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ProviderError } from '../ports.ts'
import { ToolCallAssembler } from './tool-calls.ts'

describe('ToolCallAssembler', () => {
  it('joins interleaved deltas by index into whole calls, in index order', () => {
    const calls = new ToolCallAssembler()
    calls.add({ index: 1, id: 'call_b', function: { name: 'current_', arguments: '' } })
    calls.add({ index: 0, id: 'call_a', function: { name: 'calculator', arguments: '{"expr' } })
    calls.add({ index: 1, function: { name: 'time', arguments: '{}' } })
    calls.add({ index: 0, function: { arguments: 'ession":"1"}' } })
    assert.deepEqual(calls.flush(), [
      { id: 'call_a', name: 'calculator', arguments: '{"expression":"1"}' },
      { id: 'call_b', name: 'current_time', arguments: '{}' },
    ])
    assert.deepEqual(calls.flush(), [], 'flushed calls are forgotten')
  })

  it('numbers calls without an index or id, and defaults empty arguments to {}', () => {
    const calls = new ToolCallAssembler()
    calls.add({ function: { name: 'first' } })
    calls.add({ function: { name: 'second' } })
    assert.deepEqual(calls.flush(), [
      { id: 'call_0', name: 'first', arguments: '{}' },
      { id: 'call_1', name: 'second', arguments: '{}' },
    ])
  })

  it('refuses a call that never got a name', () => {
    const calls = new ToolCallAssembler()
    calls.add({ index: 0, id: 'call_x', function: { arguments: '{}' } })
    assert.throws(() => calls.flush(), (error: unknown) => error instanceof ProviderError && error.code === 'invalid_response')
  })
})
