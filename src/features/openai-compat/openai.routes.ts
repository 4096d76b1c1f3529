import { Hono, type Context } from 'hono'
import type { AppEnv } from '../../env.ts'
import type { Clock } from '../../kernel/clock.ts'
import { HttpProblem, problems } from '../../kernel/problem.ts'
import { json } from '../../pipeline/index.ts'
import { validate } from '../../middleware/validation/index.ts'
import { ID_PATTERN } from '../conversations/schema.ts'
import { Heartbeats } from '../chat/index.ts'
import type { Completions, OptIns } from './completion.ts'
import { completionProblem, invalidRequest } from './errors.ts'
import { modelRoutes, requireModel, type OfferedModels } from './models.ts'
import { completionRequest, type CompletionRequest } from './schema.ts'
import { completionStream } from './stream.ts'
import { completionJson, type CompletionIdentity } from './wire.ts'

export interface OpenAIRoutesOptions {
  completions: Completions
  models: OfferedModels
  /** SSE comment interval (config `chat.heartbeat_interval`). */
  heartbeatMs: number
  /**
   * Time allowed until the response exists (config `server.request_timeout`): the whole of a plain
   * completion, the wait for a stream's first event. The timeout middleware answers 504 then; this
   * cancels the upstream call, which would otherwise run on for nobody.
   */
  deadlineMs: number
  clock: Clock
}

const on = (value: string | undefined) => value !== undefined && /^(on|true|1|yes)$/i.test(value.trim())

/** The assistant's features the request opted into; plain OpenAI behaviour without them. */
function optIns(c: Context<AppEnv>, request: CompletionRequest): OptIns {
  const conversationId = c.req.header('x-conversation-id') ?? request.metadata?.conversation_id
  if (conversationId !== undefined && !ID_PATTERN.test(conversationId)) {
    throw invalidRequest('The conversation id must be 1-128 chars of [A-Za-z0-9._:-]', c.req.header('x-conversation-id') === undefined ? 'metadata.conversation_id' : 'X-Conversation-Id')
  }
  return { conversationId, memory: on(c.req.header('x-assistant-memory')), tools: on(c.req.header('x-assistant-tools')) }
}

/** Hex id without dashes, as OpenAI's `chatcmpl-…` ids look. */
const completionId = () => `chatcmpl-${crypto.randomUUID().replaceAll('-', '')}`

/**
 * The OpenAI-compatible API: `GET /models`, `GET /models/{id}` and `POST /chat/completions`, plain
 * and streamed. Mount under `/v1`, behind authentication; its problems are OpenAI-shaped
 * (`OPENAI_ERRORS`).
 */
export function openAIRoutes(options: OpenAIRoutesOptions) {
  const { completions, models, clock } = options
  const heartbeats = new Heartbeats(options.heartbeatMs, clock)

  return new Hono<AppEnv>().route('/', modelRoutes(models)).post('/chat/completions', validate('json', completionRequest), async (c) => {
    const request = c.req.valid('json')
    requireModel(models, request.model)
    const opted = optIns(c, request)
    const cancel = new AbortController()
    const gone = () => cancel.abort(new DOMException('The client went away', 'AbortError'))
    const requestSignal = c.req.raw.signal
    requestSignal.addEventListener('abort', gone, { once: true })
    const deadline = clock.setTimeout(() => cancel.abort(problems.gatewayTimeout()), options.deadlineMs, { unref: true })
    const identity: CompletionIdentity = { id: completionId(), created: Math.floor(clock.now() / 1000), model: request.model }
    const input = { userId: c.get('user').id, id: identity.id, request, optIns: opted, signal: cancel.signal }
    const headers: Record<string, string> = opted.conversationId ? { 'x-conversation-id': opted.conversationId } : {}
    try {
      if (request.stream) {
        return await completionStream(c, (hooks) => completions.run(input, hooks), {
          identity,
          includeUsage: request.stream_options?.include_usage === true,
          heartbeats,
          cancel,
          headers,
        })
      }
      const completion = await completions.run(input)
      return json(c, completionJson(identity, completion), 200, headers)
    } catch (error) {
      if (cancel.signal.reason instanceof HttpProblem) throw cancel.signal.reason
      // Nobody reads this answer; it is logged (nginx's 499), not reported as a server failure.
      if (cancel.signal.aborted) throw new HttpProblem(499, { detail: 'The client closed the request', cause: error })
      throw completionProblem(error)
    } finally {
      clock.clearTimeout(deadline)
      requestSignal.removeEventListener('abort', gone)
    }
  })
}
