import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SseLineDecoder } from './sse.ts'

const bytes = (text: string) => new TextEncoder().encode(text)

describe('SseLineDecoder', () => {
  it('yields one payload per data: line, with or without the space, across LF, CRLF and CR endings', () => {
    const decoder = new SseLineDecoder()
    assert.deepEqual(decoder.push(bytes('data: a\n\ndata:b\r\n\r\ndata: c\r\rdata: d')), ['a', 'b', 'c'])
    assert.deepEqual(decoder.end(), ['d'])
  })

  it('ignores comments and other fields', () => {
    const decoder = new SseLineDecoder()
    assert.deepEqual(decoder.push(bytes(': ping\nevent: x\nid: 3\nretry: 10\ndata: y\n\n')), ['y'])
  })

  it('keeps a line split anywhere, including a CRLF split between chunks and inside a UTF-8 sequence', () => {
    const decoder = new SseLineDecoder()
    const all = bytes('data: héllo 👋\r\ndata: [DONE]\r\n')
    const out: string[] = []
    for (let i = 0; i < all.length; i++) out.push(...decoder.push(all.subarray(i, i + 1)))
    out.push(...decoder.end())
    assert.deepEqual(out, ['héllo 👋', '[DONE]'])
  })

  it('does not count a CR at a chunk end followed by LF as two line ends', () => {
    const decoder = new SseLineDecoder()
    assert.deepEqual(decoder.push(bytes('data: a\r')), [])
    assert.deepEqual(decoder.push(bytes('\ndata: b\n')), ['a', 'b'])
  })
})
