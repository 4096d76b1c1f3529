import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  decodeConversationCursor,
  decodeMemoryCursor,
  decodeMessageCursor,
  encodeConversationCursor,
  encodeMemoryCursor,
  encodeMessageCursor,
} from './cursor.ts'
import { InvalidCursorError } from './ports.ts'

describe('cursors', () => {
  it('round-trip positions, including non-ASCII ids, as URL-safe text', () => {
    const position = { updatedAt: 1_767_225_600_123, id: 'chat-ünïcode/+?' }
    const cursor = encodeConversationCursor(position)
    assert.match(cursor, /^[A-Za-z0-9_-]+$/)
    assert.deepEqual(decodeConversationCursor(cursor), position)
    assert.equal(decodeMessageCursor(encodeMessageCursor(42)), 42)
    assert.deepEqual(decodeMemoryCursor(encodeMemoryCursor({ createdAt: 5, id: 'n' })), { createdAt: 5, id: 'n' })
  })

  it('reject garbage, other kinds and wrong field types', () => {
    const conversation = encodeConversationCursor({ updatedAt: 1, id: 'a' })
    const bad = ['', '!!!', 'a'.repeat(2000), btoa('[1]'), btoa('null'), btoa('{"k":"c","u":-1,"i":"a"}'), btoa('{"k":"c","u":1}'), encodeMessageCursor(1)]
    for (const cursor of bad) assert.throws(() => decodeConversationCursor(cursor), InvalidCursorError, cursor)
    assert.throws(() => decodeMessageCursor(conversation), InvalidCursorError)
    assert.throws(() => decodeMemoryCursor(conversation), InvalidCursorError)
  })
})
