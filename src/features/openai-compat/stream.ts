import type { Context } from 'hono'
import { streamSSE } from 'hono/streaming'
import type { AppEnv } from '../../env.ts'
import { StreamProgress } from '../../pipeline/index.ts'
import { FrameWriter, sseResponse, type Heartbeats, type JobEvent } from '../chat/index.ts'
import type { Completion, CompletionHooks } from './completion.ts'
import { completionProblem, openAIError } from './errors.ts'
import { ChunkFrames, DONE_FRAME, errorFrame, type CompletionIdentity } from './wire.ts'

export interface CompletionStreamOptions {
  identity: CompletionIdentity
  /** `stream_options.include_usage`: one last chunk with `usage` and `choices: []`. */
  includeUsage: boolean
  /** Shared by the streams of one router (`config.chat.heartbeat_interval`). */
  heartbeats: Heartbeats
  /** Aborted when the client goes away: the completion's signal, so the upstream call ends too. */
  cancel: AbortController
  headers: Record<string, string>
}

/**
 * A streamed completion. The response waits for the model's first event, so a failure before it
 * (an unknown conversation, an upstream that refuses) is a real HTTP status; after it, a failure is
 * one `data: {"error": …}` event and the end of the stream, and a client that hangs up cancels the
 * completion. Text deltas become chunks as they come (deltas that arrive while a write is pending
 * share one chunk, as the chat streams coalesce them); the client's tool calls, the finish reason and
 * the usage follow the text, then `[DONE]`.
 */
export async function completionStream(
  c: Context<AppEnv>,
  start: (hooks: CompletionHooks) => Promise<Completion>,
  options: CompletionStreamOptions,
): Promise<Response> {
  const { identity, heartbeats, cancel } = options
  const frames = new ChunkFrames(identity)
  let writer: FrameWriter | undefined
  // Text before the stream opened goes out in its first write, with the role.
  let early = ''
  const onText = (delta: string) => (writer ? writer.pushEvent({ seq: 0, type: 'message', delta }) : (early += delta))
  let answering!: () => void
  const answered = new Promise<void>((resolve) => (answering = resolve))
  const running = start({ onText, onActivity: answering })
  await Promise.race([answered, running])

  const progress = new StreamProgress()
  let readable: ReadableStream<Uint8Array> | undefined
  const res = streamSSE(c, async (stream) => {
    readable = stream.responseReadable
    stream.onAbort(() => cancel.abort(new DOMException('The client went away', 'AbortError')))
    // Only text deltas are queued as events; FrameWriter joins a run of them into one.
    const out = (writer = new FrameWriter(stream, progress, { format: (event: JobEvent) => (event.type === 'message' ? frames.text(event.delta) : '') }))
    out.push(frames.role() + (early === '' ? '' : frames.text(early)))
    heartbeats.add(out)
    try {
      const completion = await running
      let tail = ''
      completion.toolCalls.forEach((call, index) => (tail += frames.toolCall(index, call)))
      tail += frames.finish(completion.finishReason)
      if (options.includeUsage) tail += frames.usage(completion.usage)
      out.push(tail + DONE_FRAME)
    } catch (error) {
      if (!cancel.signal.aborted) {
        const problem = completionProblem(error)
        if (problem.status >= 500 && problem.extensions?.code === undefined) c.get('log')?.().error({ err: error }, 'completion failed mid-stream')
        out.push(errorFrame(openAIError(problem, c.get('requestId'))))
      }
    } finally {
      heartbeats.delete(out)
      await out.drain()
      progress.end(stream.aborted)
    }
  })
  return sseResponse(c, res, readable, progress, options.headers)
}
