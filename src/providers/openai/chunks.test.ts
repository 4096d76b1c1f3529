import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ProviderError } from '../ports.ts'
import { ChunkParser } from './chunks.ts'

const payload = (choice: Record<string, unknown> | null, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ object: 'chat.completion.chunk', choices: choice ? [{ index: 0, ...choice }] : [], ...extra })

describe('ChunkParser', () => {
  it('yields text deltas, then tool calls at the finish_reason, then finish with the usage at [DONE]', () => {
    const parser = new ChunkParser('asked-for')
    assert.deepEqual(parser.accept(payload({ delta: { role: 'assistant', content: '' } })), undefined)
    assert.deepEqual(parser.accept(payload({ delta: { content: 'Hi' } }, { model: 'served-model' })), [{ type: 'text', delta: 'Hi' }])
    assert.equal(parser.accept(payload({ delta: { tool_calls: [{ index: 0, id: 'c1', function: { name: 'calc', arguments: '{}' } }] } })), undefined)
    assert.deepEqual(parser.accept(payload({ delta: {}, finish_reason: 'tool_calls' })), [{ type: 'tool_call', call: { id: 'c1', name: 'calc', arguments: '{}' } }])
    assert.equal(parser.accept(payload(null, { usage: { prompt_tokens: 3, completion_tokens: 2 } })), undefined)
    assert.equal(parser.done, false)
    assert.deepEqual(parser.accept('[DONE]'), [
      { type: 'finish', reason: 'tool_calls', model: 'served-model', usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 } },
    ])
    assert.equal(parser.done, true)
  })

  it('skips junk lines, maps unknown finish reasons to other, and finishes without [DONE] only after a finish_reason', () => {
    const parser = new ChunkParser('m')
    assert.equal(parser.accept('<html>proxy</html>'), undefined)
    assert.equal(parser.accept('[1, 2]'), undefined)
    assert.equal(parser.close(), undefined, 'no finish_reason yet: the reply is incomplete')
    parser.accept(payload({ delta: {}, finish_reason: 'weird' }))
    assert.deepEqual(parser.close(), [{ type: 'finish', reason: 'other', model: 'm' }])
  })

  it('turns an error chunk into a ProviderError that keeps the upstream status, not its message', () => {
    const parser = new ChunkParser('m')
    assert.throws(
      () => parser.accept(JSON.stringify({ error: { message: 'internal sk-SECRET', code: 500 } })),
      (error: unknown) => error instanceof ProviderError && error.upstreamStatus === 500 && !/SECRET/.test(error.message),
    )
  })
})
