import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { SSEStreamingApi } from 'hono/streaming'
import { ManualClock } from '../../kernel/clock.ts'
import { uiMessageFormatter } from './formatters.ts'
import type { JobEvent } from './jobs.ts'
import { FrameWriter, Heartbeats } from './sse.ts'
import { StreamProgress } from '../../pipeline/index.ts'
import { AUTH, testApp } from '../../../test/helpers/app.ts'

/** A stream whose first write stays pending until `release()`: a client that is slow to read. */
function blockingStream() {
  const writes: string[] = []
  let release!: () => void
  const blocked = new Promise<void>((resolve) => (release = resolve))
  const fake = {
    aborted: false,
    async write(chunk: Uint8Array) {
      writes.push(new TextDecoder().decode(chunk))
      if (writes.length === 1) await blocked
      return this
    },
  } as unknown as SSEStreamingApi
  return { writes, release, fake }
}

describe('FrameWriter', () => {
  it('joins frames of one burst, and frames pushed while a write is pending, into one write each', async () => {
    const { writes, release, fake } = blockingStream()
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

  it('reports the UTF-8 bytes it writes', async () => {
    const fake = { aborted: false, async write() { return this } } as unknown as SSEStreamingApi
    const progress = new StreamProgress()
    const writer = new FrameWriter(fake, progress)
    writer.push('é\n')
    await writer.drain()
    writer.push('€𝄞')
    await writer.drain()
    progress.end(false)
    let bytes = -1
    progress.follow((written) => (bytes = written))
    assert.equal(bytes, 3 + 3 + 4)
  })

  it('formats queued events when it writes them, in push order with the text around them', async () => {
    const writes: string[] = []
    const fake = { aborted: false, async write(chunk: Uint8Array) { writes.push(new TextDecoder().decode(chunk)); return this } } as unknown as SSEStreamingApi
    let formatted = 0
    const writer = new FrameWriter(fake, undefined, { format: (event) => `${event.seq}:${++formatted};` })
    writer.push('<')
    writer.pushEvent({ seq: 1, type: 'message', delta: 'a' })
    writer.pushEvent({ seq: 2, type: 'done', data: {} })
    writer.push('>')
    assert.equal(formatted, 0, 'nothing is formatted before the write')
    await writer.drain()
    assert.deepEqual(writes, ['<1:1;2:2;>'])
  })

  it('merges text deltas queued while a write is pending into one frame: joined text, last id', async () => {
    const { writes, release, fake } = blockingStream()
    const writer = new FrameWriter(fake)
    writer.pushEvent({ seq: 1, type: 'message', delta: 'a' })
    while (writes.length === 0) await new Promise((resolve) => setTimeout(resolve, 1))
    // A slow consumer: the first write is still pending while the job appends more.
    for (const [seq, delta] of [[2, 'b'], [3, 'c'], [4, 'd']] as const) writer.pushEvent({ seq, type: 'message', delta })
    release()
    await writer.drain()
    assert.deepEqual(writes, [
      'event: message\nid: 1\ndata: {"delta":"a"}\n\n',
      'event: message\nid: 4\ndata: {"delta":"bcd"}\n\n',
    ])
  })

  it('never merges across a tool call, a tool result, done or a comment, and keeps their order', async () => {
    const writes: string[] = []
    const fake = { aborted: false, async write(chunk: Uint8Array) { writes.push(new TextDecoder().decode(chunk)); return this } } as unknown as SSEStreamingApi
    const writer = new FrameWriter(fake, undefined, { format: (event) => `${event.type}#${event.seq}${event.type === 'message' ? `(${event.delta})` : ''};` })
    const text = (seq: number, delta: string): JobEvent => ({ seq, type: 'message', delta })
    writer.pushEvent(text(1, 'a'))
    writer.pushEvent(text(2, 'b'))
    writer.pushEvent({ seq: 3, type: 'tool_call', data: {} })
    writer.pushEvent(text(4, 'c'))
    writer.pushEvent({ seq: 5, type: 'tool_result', data: {} })
    writer.pushEvent(text(6, 'd'))
    writer.push(': heartbeat;')
    writer.pushEvent(text(7, 'e'))
    writer.pushEvent(text(8, 'f'))
    writer.pushEvent({ seq: 9, type: 'done', data: {} })
    await writer.drain()
    assert.deepEqual(writes, ['message#2(ab);tool_call#3;message#4(c);tool_result#5;message#6(d);: heartbeat;message#8(ef);done#9;'])
  })

  it('merges into one text-delta chunk of the current text part in the UI message stream', async () => {
    const writes: string[] = []
    const fake = { aborted: false, async write(chunk: Uint8Array) { writes.push(new TextDecoder().decode(chunk)); return this } } as unknown as SSEStreamingApi
    const ui = uiMessageFormatter('m1')
    const writer = new FrameWriter(fake, undefined, ui)
    writer.pushEvent({ seq: 1, type: 'message', delta: 'Hel' })
    writer.pushEvent({ seq: 2, type: 'message', delta: 'lo' })
    writer.pushEvent({ seq: 3, type: 'tool_call', data: { id: 't', name: 'x', arguments: {} } })
    writer.pushEvent({ seq: 4, type: 'tool_result', data: { id: 't', name: 'x', result: 1 } })
    writer.pushEvent({ seq: 5, type: 'message', delta: ' wor' })
    writer.pushEvent({ seq: 6, type: 'message', delta: 'ld' })
    await writer.drain()
    const chunks = writes.join('').split('\n\n').filter(Boolean).map((frame) => JSON.parse(frame.slice('data: '.length)))
    assert.deepEqual(chunks.filter((c) => c.type.startsWith('text-')), [
      { type: 'text-start', id: 'text-1' },
      { type: 'text-delta', id: 'text-1', delta: 'Hello' },
      { type: 'text-end', id: 'text-1' },
      { type: 'text-start', id: 'text-2' },
      { type: 'text-delta', id: 'text-2', delta: ' world' },
    ])
  })

  it('writes nothing more once the client is gone', async () => {
    const writes: string[] = []
    const fake = { aborted: true, async write(chunk: Uint8Array) { writes.push(new TextDecoder().decode(chunk)); return this } } as unknown as SSEStreamingApi
    const writer = new FrameWriter(fake)
    writer.push('a')
    await writer.drain()
    assert.deepEqual(writes, [])
  })
})

describe('Heartbeats', () => {
  it('beats for every open stream on one timer, held only while a stream is open', async () => {
    const writes: string[][] = [[], []]
    const writers = writes.map((list) => ({ push: (text: string) => void list.push(text) }))
    const clock = new ManualClock()
    const heartbeats = new Heartbeats(5, clock)
    heartbeats.add(writers[0])
    heartbeats.add(writers[1])
    assert.equal(clock.pending, 1, 'one timer for both streams')
    await clock.advance(4)
    assert.deepEqual(writes, [[], []], 'nothing before the first interval')
    await clock.advance(1)
    assert.deepEqual(writes, [[': heartbeat\n\n'], [': heartbeat\n\n']])
    await clock.advance(5)
    assert.deepEqual(writes.map((list) => list.length), [2, 2], 'then one every interval')
    heartbeats.delete(writers[0])
    assert.equal(clock.pending, 1, 'still beating for the other stream')
    await clock.advance(5)
    assert.deepEqual(writes.map((list) => list.length), [2, 3])
    heartbeats.delete(writers[1])
    assert.equal(clock.pending, 0, 'no timer once every stream closed')
  })
})

describe('eventStream through the whole app', () => {
  it('reports its bytes and end to the access log and metrics', async () => {
    const { app, lines } = await testApp({ env: { AI_BUILTIN_CHUNK_DELAY: '0' } })
    const res = await app.request('/api/v1/chat/stream', {
      method: 'POST',
      headers: { ...AUTH.alice, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'count my bytes: é €' }),
    })
    const body = new Uint8Array(await res.arrayBuffer())
    assert.match(new TextDecoder().decode(body), /event: done/)
    let line: Record<string, unknown> | undefined
    for (let i = 0; i < 100 && !line; i++) {
      line = lines.find((l) => l.route === '/api/v1/chat/stream')
      if (!line) await new Promise((resolve) => setTimeout(resolve, 5))
    }
    assert.ok(line, 'the access log line is written at the end of the stream')
    assert.equal(line.bytes, body.byteLength)
    assert.equal(line.aborted, undefined)
    const metrics = await (await app.request('/metrics')).text()
    assert.match(metrics, /http_stream_duration_seconds_count\{method="POST",route="\/api\/v1\/chat\/stream",aborted="false"\} 1/)
  })
})
