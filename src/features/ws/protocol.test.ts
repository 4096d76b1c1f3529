import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { codeForStatus, messageJson, parseClientFrame } from './protocol.ts'

describe('parseClientFrame', () => {
  it('accepts every frame type and fills resume.after', () => {
    const chat = parseClientFrame('{"type":"chat","request_id":"r","message":"hi","conversation_id":"c"}')
    assert.deepEqual(chat, { ok: true, frame: { type: 'chat', request_id: 'r', message: 'hi', conversation_id: 'c' } })
    assert.deepEqual(parseClientFrame('{"type":"resume","conversation_id":"c"}'), {
      ok: true,
      frame: { type: 'resume', conversation_id: 'c', after: 0 },
    })
    for (const type of ['ping', 'pong']) assert.equal(parseClientFrame(JSON.stringify({ type })).ok, true)
    for (const type of ['stop', 'subscribe', 'unsubscribe']) {
      assert.equal(parseClientFrame(JSON.stringify({ type, conversation_id: 'c' })).ok, true)
    }
  })

  it('names what is wrong', () => {
    assert.equal((parseClientFrame('nope') as { code: string }).code, 'bad_json')
    assert.equal((parseClientFrame('"text"') as { code: string }).code, 'invalid_frame')
    assert.equal((parseClientFrame('null') as { code: string }).code, 'invalid_frame')
    assert.equal((parseClientFrame('{"type":"__proto__"}') as { code: string }).code, 'unknown_type')
    assert.equal((parseClientFrame('{}') as { code: string }).code, 'unknown_type')
    const bad = parseClientFrame('{"type":"resume","conversation_id":"c","after":-1,"request_id":"q"}')
    assert.deepEqual([bad.ok, (bad as { message: string }).message.startsWith('after:'), (bad as { requestId?: string }).requestId], [false, true, 'q'])
  })
})

describe('codeForStatus / messageJson', () => {
  it('maps statuses to stable codes', () => {
    assert.deepEqual([404, 409, 429, 500, 502].map(codeForStatus), ['not_found', 'conflict', 'rate_limited', 'internal', 'internal'])
  })

  it('renders a message in the API shape', () => {
    assert.deepEqual(
      messageJson({ id: 'm', conversationId: 'c', seq: 1, role: 'user', content: 'x', status: 'complete', createdAt: 0, tokens: 2 }),
      { id: 'm', conversation_id: 'c', seq: 1, role: 'user', content: 'x', status: 'complete', created_at: '1970-01-01T00:00:00.000Z', tokens: 2 },
    )
  })
})
