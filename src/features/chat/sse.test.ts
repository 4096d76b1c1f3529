import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { SSEStreamingApi } from 'hono/streaming'
import type { JobEvent } from './jobs.ts'
import { eventStreamFormatter, FrameWriter, uiMessageFormatter } from './sse.ts'
import { estimateTokens, fitHistory } from './service.ts'
import type { Message } from '../../storage/ports.ts'

describe('FrameWriter', () => {
  it('joins frames of one burst, and frames pushed while a write is pending, into one write each', async () => {
    const writes: string[] = []
    let release!: () => void
    const blocked = new Promise<void>((resolve) => (release = resolve))
    const fake = {
      aborted: false,
      async write(text: string) {
        writes.push(text)
        if (writes.length === 1) await blocked
        return this
      },
    } as unknown as SSEStreamingApi
    const writer = new FrameWriter(fake)
    writer.push('a')
    writer.push('b')
    while (writes.length === 0) await new Promise((resolve) => setTimeout(resolve, 1))
    writer.push('c')
    writer.push('d')
    release()
    await writer.drain()
    assert.deepEqual(writes, ['ab', 'cd'])
  })

  it('writes nothing more once the client is gone', async () => {
    const writes: string[] = []
    const fake = { aborted: true, async write(text: string) { writes.push(text); return this } } as unknown as SSEStreamingApi
    const writer = new FrameWriter(fake)
    writer.push('a')
    await writer.drain()
    assert.deepEqual(writes, [])
  })
})

describe('formatters', () => {
  it('formats an event frame once and reuses it', () => {
    const event: JobEvent = { seq: 7, type: 'message', data: { delta: 'line\nbreak' } }
    const frame = eventStreamFormatter.format(event)
    assert.equal(frame, 'event: message\nid: 7\ndata: {"delta":"line\\nbreak"}\n\n')
    assert.equal(event.frame, frame)
  })

  it('opens and closes text parts around tools in the UI protocol', () => {
    const ui = uiMessageFormatter('m1')
    const out = [
      ui.open,
      ui.format({ seq: 1, type: 'message', data: { delta: 'a' } }),
      ui.format({ seq: 2, type: 'tool_call', data: { id: 't', name: 'x', arguments: {} } }),
      ui.format({ seq: 3, type: 'tool_result', data: { id: 't', name: 'x', error: { status: 500, detail: 'The tool failed' } } }),
      ui.format({ seq: 4, type: 'error', data: { status: 502, detail: 'boom' } }),
      ui.close,
    ].join('')
    const types = [...out.matchAll(/"type":"([^"]+)"/g)].map((m) => m[1])
    assert.deepEqual(types, ['start', 'start-step', 'text-start', 'text-delta', 'text-end', 'tool-input-available', 'tool-output-error', 'error'])
    assert.ok(out.endsWith('data: [DONE]\n\n'))
  })
})

describe('history budget', () => {
  const message = (content: string): Message => ({ id: content, conversationId: 'c', seq: 1, role: 'user', content, status: 'complete', createdAt: 0 })
  it('keeps the newest messages that fit, oldest first', () => {
    assert.equal(estimateTokens('12345678'), 2)
    const kept = fitHistory([message('a'.repeat(40)), message('b'.repeat(8)), message('c'.repeat(8))], 5)
    assert.deepEqual(kept.map((m) => m.content[0]), ['b', 'c'])
  })
})
