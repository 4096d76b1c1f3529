import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { as, assertProblem, call, jsonBody, type E2ETarget, type TargetRef } from './client.ts'
import { SseStream, type SseFrame } from './sse.ts'

/**
 * A message long enough that the built-in model (one word per `AI_BUILTIN_CHUNK_DELAY`, at its
 * default 15 ms: about 1.5 s in all) is still replying when the test resumes or stops it. Nothing
 * fails when it finishes early: resume then replays the retained log, and stop is asserted only
 * after a delta arrived.
 */
const LONG = `e2e ${Array.from({ length: 100 }, (_, i) => `word${i}`).join(' ')}`

/** The deltas of `message` events, concatenated. */
const text = (frames: SseFrame[]) => frames.filter((f) => f.event === 'message').map((f) => f.data.delta).join('')

/** `done` once and last. */
function assertEndsWithDone(frames: SseFrame[]): void {
  assert.equal(frames.at(-1)?.event, 'done', 'done is last')
  assert.equal(frames.filter((f) => f.event === 'done').length, 1)
}

/**
 * A stream's frames: ids strictly increasing (text deltas queued for one write are merged into one
 * frame carrying the last merged seq, so ids may skip), `done` last.
 */
function assertStreamed(frames: SseFrame[]): void {
  const ids = frames.map((f) => f.id)
  assert.ok(
    ids.every((id, i) => typeof id === 'number' && id > 0 && (i === 0 || id > ids[i - 1]!)),
    `ids increase strictly: ${frames.map((f) => `${f.event}#${f.id}`).join(' ')}`,
  )
  assertEndsWithDone(frames)
}

/** The long-poll log, unmerged: ids 1, 2, 3, … with no gap or repeat, `done` last. */
function assertWholeLog(frames: SseFrame[]): void {
  assert.deepEqual(
    frames.map((f) => f.id),
    frames.map((_, i) => 1 + i),
    `ids increase by one from 1: ${frames.map((f) => `${f.event}#${f.id}`).join(' ')}`,
  )
  assertEndsWithDone(frames)
}

async function startStream(target: E2ETarget, key: string, message: string, conversationId?: string): Promise<{ stream: SseStream; conversationId: string }> {
  const body = conversationId ? { message, conversation_id: conversationId } : { message }
  const stream = await SseStream.open(target, '/api/v1/chat/stream', as(key, jsonBody(body)))
  assert.equal(stream.status, 200)
  assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/)
  const id = stream.headers.get('x-conversation-id')
  assert.ok(id, 'X-Conversation-Id names the conversation')
  return { stream, conversationId: id }
}

async function lastAssistantMessage(target: E2ETarget, key: string, conversationId: string) {
  const res = await call(target, `/api/v1/conversations/${conversationId}`, as(key))
  assert.equal(res.status, 200, res.text)
  const messages = res.json().messages as { role: string; content: string; status: string }[]
  return messages.findLast((m) => m.role === 'assistant')
}

/** Chat over JSON, SSE, resume, long-poll and stop, against the built-in model. */
export function chatChecks(target: TargetRef): void {
  describe('/api/v1/chat', () => {
    it('POST /chat answers JSON and persists both messages', async () => {
      const { alice } = target().users
      const res = await call(target(), '/api/v1/chat', as(alice.key, jsonBody({ message: 'hello from the e2e suite' })))
      assert.equal(res.status, 200, res.text)
      const body = res.json()
      assert.match(body.message, /You said: "hello from the e2e suite"/)
      assert.equal(body.status, 'complete')
      assert.equal(typeof body.message_id, 'string')
      assert.ok(body.tokens_used > 0)
      const shown = await call(target(), `/api/v1/conversations/${body.conversation_id}`, as(alice.key))
      const messages = shown.json().messages as { role: string; content: string }[]
      assert.deepEqual(messages.map((m) => m.role), ['user', 'assistant'])
      assert.equal(messages[1].content, body.message)
    })

    it('POST /chat with an empty message is a 400 naming message', async () => {
      const body = assertProblem(await call(target(), '/api/v1/chat', as(target().users.alice.key, jsonBody({ message: '' }))), 400)
      assert.ok(JSON.stringify(body).includes('message'))
    })

    it('POST /chat/stream sends message frames with strictly increasing ids, then done', async () => {
      const { alice } = target().users
      const { stream, conversationId } = await startStream(target(), alice.key, 'stream me please')
      const frames = await stream.rest()
      await stream.close()
      assertStreamed(frames)
      assert.match(text(frames), /^You said: "stream me please"/)
      const done = frames.at(-1)!.data
      assert.equal(done.conversation_id, conversationId)
      assert.equal(done.status, 'complete')
      assert.equal((await lastAssistantMessage(target(), alice.key, conversationId))?.content, text(frames))
    })

    it('a /tool message streams tool_call and tool_result before the answer', async () => {
      const { alice } = target().users
      const { stream } = await startStream(target(), alice.key, '/tool calculator {"expression":"2+2"}')
      const frames = await stream.rest()
      await stream.close()
      assertStreamed(frames)
      const kinds = frames.map((f) => f.event)
      const callAt = kinds.indexOf('tool_call')
      const result = kinds.indexOf('tool_result')
      assert.ok(callAt >= 0 && result > callAt, `tool_call then tool_result: ${kinds.join(' ')}`)
      assert.equal(frames[callAt].data.name, 'calculator')
      assert.match(JSON.stringify(frames[result].data), /4/)
      assert.match(text(frames.slice(result)), /calculator/)
    })

    it('resuming with Last-Event-ID after a dropped stream loses and repeats nothing', async () => {
      const { alice } = target().users
      const live = target().crossRequestIo
      const { stream, conversationId } = await startStream(target(), alice.key, LONG)
      const before: SseFrame[] = []
      while (before.length < 3) {
        const frame = await stream.next()
        assert.ok(frame, 'the stream ended before three events')
        before.push(frame)
      }
      // Where a job cannot outlive its request (workerd), the first stream runs to the end and the
      // resume replays the retained log; elsewhere it hangs up and the resume follows the job live.
      const whole = live ? [] : [...before, ...(await stream.rest())]
      await stream.close()
      const resumed = await SseStream.open(target(), `/api/v1/conversations/${conversationId}/stream`, as(alice.key, { headers: { 'last-event-id': String(before.at(-1)!.id) } }))
      assert.equal(resumed.status, 200)
      const after = await resumed.rest()
      await resumed.close()
      const all = [...before, ...after]
      assertStreamed(all)
      assert.ok(after[0].id! > before.at(-1)!.id!, 'the resume starts after the cursor')
      // A replay may merge deltas the live stream sent one by one: compare the text, not the frames.
      if (!live) assert.deepEqual([text(all), all.at(-1)], [text(whole), whole.at(-1)])
      const reply = text(all)
      assert.match(reply, /word99/)
      assert.equal((await lastAssistantMessage(target(), alice.key, conversationId))?.content, reply)

      // ?after= is the same cursor for clients that cannot set headers; right before done, only done is left.
      const doneId = all.at(-1)!.id!
      const tail = await SseStream.open(target(), `/api/v1/conversations/${conversationId}/stream?after=${doneId - 1}`, as(alice.key))
      const last = await tail.rest()
      await tail.close()
      assert.deepEqual(last.map((f) => [f.event, f.id]), [['done', doneId]])
    })

    it('resume is 204 for a conversation without a reply, 404 for someone else’s', async () => {
      const { alice, bob } = target().users
      const created = await call(target(), '/api/v1/conversations', as(alice.key, jsonBody({})))
      const id = created.json().id
      const none = await call(target(), `/api/v1/conversations/${id}/stream`, as(alice.key))
      assert.equal(none.status, 204)
      assertProblem(await call(target(), `/api/v1/conversations/${id}/stream`, as(bob.key)), 404)
    })

    it('long-polling /events from a cursor yields the whole log once', async () => {
      const { alice } = target().users
      const { stream, conversationId } = await startStream(target(), alice.key, 'poll me e2e')
      // The job outlives its first listener (on workerd only while that request lasts: read it to the end).
      if (!target().crossRequestIo) await stream.rest()
      await stream.close()
      const events: { id: number; event: string; data: any }[] = []
      let after = 0
      let done = false
      for (let round = 0; round < 500 && !done; round++) {
        const res = await call(target(), `/api/v1/conversations/${conversationId}/events?after=${after}`, as(alice.key))
        assert.equal(res.status, 200, res.text)
        const body = res.json()
        events.push(...body.events)
        assert.ok(body.next_after >= after)
        after = body.next_after
        done = body.done
      }
      assert.ok(done, 'the log ended within 500 polls')
      assertWholeLog(events.map((e) => ({ event: e.event, id: e.id, data: e.data })))
      assert.match(events.filter((e) => e.event === 'message').map((e) => e.data.delta).join(''), /poll me e2e/)
    })

    it('stop answers 202 and the reply is persisted as stopped; nothing to stop is a 404', async () => {
      const { alice, bob } = target().users
      if (!target().crossRequestIo) {
        // Only the request running a job can stop it here: the /ws area's `stop` frame covers stopping.
        const res = await call(target(), '/api/v1/chat', as(alice.key, jsonBody({ message: 'finished already' })))
        const conversationId = res.json().conversation_id
        assertProblem(await call(target(), `/api/v1/conversations/${conversationId}/stop`, as(alice.key, { method: 'POST' })), 404)
        assertProblem(await call(target(), `/api/v1/conversations/${conversationId}/stop`, as(bob.key, { method: 'POST' })), 404)
        return
      }
      const { stream, conversationId } = await startStream(target(), alice.key, LONG)
      const first = await stream.next()
      assert.equal(first?.event, 'message')
      assertProblem(await call(target(), `/api/v1/conversations/${conversationId}/stop`, as(bob.key, { method: 'POST' })), 404)
      const stopped = await call(target(), `/api/v1/conversations/${conversationId}/stop`, as(alice.key, { method: 'POST' }))
      assert.equal(stopped.status, 202, stopped.text)
      assert.equal(stopped.json().conversation_id, conversationId)
      const rest = await stream.rest()
      await stream.close()
      const all = [first!, ...rest]
      assertStreamed(all)
      assert.equal(all.at(-1)!.data.status, 'stopped')
      assert.doesNotMatch(text(all), /word99/, 'the reply was cut short')
      const saved = await lastAssistantMessage(target(), alice.key, conversationId)
      assert.equal(saved?.status, 'stopped')
      assert.equal(saved?.content, text(all))
      assertProblem(await call(target(), `/api/v1/conversations/${conversationId}/stop`, as(alice.key, { method: 'POST' })), 404)
    })
  })
}
