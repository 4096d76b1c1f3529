import { Hono, type Context } from 'hono'
import { getRuntimeKey } from 'hono/adapter'
import { z } from 'zod'
import type { AppEnv } from '../../env.ts'
import { systemClock, type Clock, type TimerHandle } from '../../kernel/clock.ts'
import { HttpProblem, problems } from '../../kernel/problem.ts'
import { empty, json } from '../../pipeline/index.ts'
import { validate } from '../../middleware/validation/index.ts'
import { eventStreamFormatter, uiMessageFormatter } from './formatters.ts'
import { eventData, type ChatJob, type JobHandle } from './jobs.ts'
import { isTerminal } from './formatters.ts'
import type { Replacing } from './rewind.ts'
import { resultOf } from './result.ts'
import type { ChatInput, ChatService } from './service.ts'
import { eventStream, Heartbeats, type StreamCounters } from './sse.ts'
import { ID_PATTERN, ID_RULE } from '../../kernel/ids.ts'

export interface ChatRoutesOptions {
  service: ChatService
  /** Comment every so often so proxies keep quiet streams open (config `chat.heartbeat_interval`, default 15 s). */
  heartbeatMs?: number
  /** How long `GET /conversations/:id/events` waits for news (config `chat.long_poll_timeout`, default 25 s). */
  longPollTimeoutMs?: number
  /** Longest accepted user message (config `chat.max_message_chars`, default 32768). */
  maxMessageChars?: number
  /** Counts open SSE responses, for leak checks; optional. */
  counters?: StreamCounters
  /** Heartbeats and the long-poll wait run on it. Default: the system clock. */
  clock?: Clock
}

const id = z.string().regex(ID_PATTERN, ID_RULE)

function chatBody(maxChars: number) {
  return z.object({
    message: z.string().trim().min(1, 'message must not be empty').max(maxChars, `message is longer than ${maxChars} characters`),
    conversation_id: id.optional(),
    model: z.string().min(1).max(200).optional(),
    temperature: z.number().min(0).max(2).optional(),
    max_tokens: z.number().int().positive().max(1_000_000).optional(),
    /** Answer the conversation's last user turn anew: it and what follows are replaced by this turn. */
    regenerate: z.boolean().optional(),
  })
}

/** The AI SDK `useChat` request body (`DefaultChatTransport`); extra `body` fields are allowed. */
const uiChatBody = z.looseObject({
  id,
  messages: z
    .array(
      z.looseObject({
        id: z.string().optional(),
        role: z.enum(['system', 'user', 'assistant']),
        parts: z.array(z.looseObject({ type: z.string() })),
      }),
    )
    .min(1),
  trigger: z.enum(['submit-message', 'regenerate-message']).optional(),
  messageId: z.string().optional(),
  model: z.string().min(1).max(200).optional(),
  temperature: z.number().min(0).max(2).optional(),
  max_tokens: z.number().int().positive().max(1_000_000).optional(),
})

/**
 * `POST /chat/stream` takes either body: the AI SDK's when it has `messages`, else ours. Invalid
 * fields are reported against the body it was taken for.
 */
function streamBody(maxChars: number) {
  const ours = chatBody(maxChars)
  return z.unknown().transform((value, ctx) => {
    const ui = typeof value === 'object' && value !== null && 'messages' in value
    const result = ui ? uiChatBody.safeParse(value) : ours.safeParse(value)
    if (!result.success) {
      for (const issue of result.error.issues) ctx.addIssue({ ...issue })
      return z.NEVER
    }
    return ui ? { ui: true as const, body: result.data as z.infer<typeof uiChatBody> } : { ui: false as const, body: result.data as z.infer<typeof ours> }
  })
}

/**
 * What an AI SDK turn replaces: the id of the user message it answers (`useChat` keeps message ids
 * stable), so a resubmitted message or a `regenerate-message` replaces the stored turn.
 */
function replacing(body: z.infer<typeof uiChatBody>): Replacing | undefined {
  const clientMessageId = body.messages.findLast((m) => m.role === 'user')?.id
  const regenerate = body.trigger === 'regenerate-message'
  if (clientMessageId === undefined && !regenerate) return undefined
  return { clientMessageId, regenerate }
}

function lastUserText(body: z.infer<typeof uiChatBody>, maxChars: number): string {
  const last = body.messages.findLast((m) => m.role === 'user')
  const text = (last?.parts ?? [])
    .filter((p) => p.type === 'text' && typeof p.text === 'string')
    .map((p) => p.text as string)
    .join('\n')
    .trim()
  if (!text) throw problems.badRequest('Invalid request body: messages', [{ path: 'messages', message: 'the last user message has no text part' }])
  if (text.length > maxChars) throw problems.badRequest('Invalid request body: messages', [{ path: 'messages', message: `message is longer than ${maxChars} characters` }])
  return text
}

/** `Last-Event-ID` header, else `?after=`, else 0. */
function cursor(c: Context<AppEnv>): number {
  const raw = c.req.header('last-event-id') ?? c.req.query('after') ?? '0'
  if (!/^\d{1,15}$/.test(raw.trim())) {
    throw problems.badRequest('Invalid cursor: after', [{ path: 'after', message: 'expected a non-negative integer event id' }])
  }
  return Number(raw.trim())
}

/**
 * Chat over JSON, SSE (our protocol and the AI SDK UI message stream), resume, long-poll and stop.
 * Mount under `/api/v1`; every route needs an authenticated `c.var.user`.
 */
export function chatRoutes(options: ChatRoutesOptions) {
  const { service, counters } = options
  const clock = options.clock ?? systemClock
  const heartbeats = new Heartbeats(options.heartbeatMs ?? 15_000, clock)
  const longPollTimeoutMs = options.longPollTimeoutMs ?? 25_000
  const maxChars = options.maxMessageChars ?? 32_768
  const messageBody = chatBody(maxChars)
  const eitherBody = streamBody(maxChars)
  // Node, Bun and Deno have no execution context: the process keeps the job alive. Asking for one
  // there throws, and that error's stack trace was a measurable share of each stream's CPU.
  const processKeepsJobsAlive = ['node', 'bun', 'deno'].includes(getRuntimeKey())

  function streamHeaders(job: JobHandle, ui: boolean): Record<string, string> {
    const headers: Record<string, string> = { 'x-conversation-id': job.conversationId, 'x-stream-id': job.id }
    if (ui) headers['x-vercel-ai-ui-message-stream'] = 'v1'
    return headers
  }

  /**
   * The conversation's latest job if the caller owns it; 404 for anyone else's conversation. The job
   * (its record, with several instances) names its owner, so a job of the caller's needs no store read.
   */
  async function ownedJob(c: Context<AppEnv>, missingIsEmpty = false): Promise<JobHandle | undefined> {
    const userId = c.get('user').id
    const conversationId = c.req.param('id')!
    const job = await service.jobs.find(conversationId)
    if (job && job.userId === userId) return job
    try {
      await service.conversation(userId, conversationId)
    } catch (error) {
      if (missingIsEmpty) return undefined
      throw error
    }
    return undefined
  }

  /**
   * Starts a job and, where the runtime ends a request's work with its response (Workers), asks it
   * to keep running until the job finishes, so a client that hangs up never cuts the generation.
   */
  async function start(c: Context<AppEnv>, chatInput: ChatInput): Promise<ChatJob> {
    const job = await service.start(c.get('user').id, chatInput)
    if (processKeepsJobsAlive) return job
    let executionCtx: { waitUntil(promise: Promise<unknown>): void } | undefined
    try {
      executionCtx = c.executionCtx
    } catch {
      // No execution context on this runtime either.
    }
    executionCtx?.waitUntil(job.finished)
    return job
  }

  function input(c: Context<AppEnv>, body: z.infer<ReturnType<typeof chatBody>>): ChatInput {
    return {
      message: body.message,
      conversationId: body.conversation_id,
      model: body.model,
      temperature: body.temperature,
      maxTokens: body.max_tokens,
      requestId: c.get('requestId'),
      replacing: body.regenerate ? { regenerate: true } : undefined,
    }
  }

  return new Hono<AppEnv>()
    .post('/chat', validate('json', messageBody), async (c) => {
      const job = await start(c, input(c, c.req.valid('json')))
      // A client that hangs up does not stop the job; it finishes and persists its reply.
      await job.finished
      return json(c, resultOf(job))
    })
    .post('/chat/stream', validate('json', eitherBody), async (c) => {
      const parsed = c.req.valid('json')
      if (parsed.ui) {
        const { body } = parsed
        const job = await start(c, {
          message: lastUserText(body, maxChars),
          conversationId: body.id,
          createIfMissing: true,
          model: body.model,
          temperature: body.temperature,
          maxTokens: body.max_tokens,
          requestId: c.get('requestId'),
          replacing: replacing(body),
        })
        return eventStream(c, { job, after: 0, formatter: uiMessageFormatter(job.id), heartbeats, headers: streamHeaders(job, true), counters })
      }
      const job = await start(c, input(c, parsed.body))
      return eventStream(c, { job, after: 0, formatter: eventStreamFormatter, heartbeats, headers: streamHeaders(job, false), counters })
    })
    // The AI SDK's default resume URL for `api: '/api/v1/chat/stream'`; it expects a full replay.
    // `useChat` probes it for chats that may not exist yet, so a missing (or foreign) one is a 204 too.
    .get('/chat/stream/:id/stream', async (c) => {
      const job = await ownedJob(c, true)
      if (!job) return empty(c, 204)
      return eventStream(c, { job, after: 0, formatter: uiMessageFormatter(job.id), heartbeats, headers: streamHeaders(job, true), counters })
    })
    .get('/conversations/:id/stream', async (c) => {
      const after = cursor(c)
      const job = await ownedJob(c)
      if (!job) return empty(c, 204)
      return eventStream(c, { job, after, formatter: eventStreamFormatter, heartbeats, headers: streamHeaders(job, false), counters })
    })
    .get('/conversations/:id/events', async (c) => {
      const after = cursor(c)
      const job = await ownedJob(c)
      if (!job) return empty(c, 204)
      let logged = await job.read(after)
      if (logged.length === 0 && job.status === 'running') {
        await nextEvent(job, after, longPollTimeoutMs, c.req.raw.signal, clock)
        logged = await job.read(after)
      }
      const last = logged[logged.length - 1]
      return json(c, {
        stream_id: job.id,
        events: logged.map((e) => ({ id: e.seq, event: e.type, data: eventData(e) })),
        next_after: last?.seq ?? after,
        done: last ? isTerminal(last) : job.status !== 'running',
      })
    })
    .post('/conversations/:id/stop', async (c) => {
      const job = await ownedJob(c)
      let stopped: boolean
      try {
        stopped = job !== undefined && (await job.stop('stopped'))
      } catch (error) {
        // Workers refuse to touch another request's I/O (the generation's upstream call and timers).
        throw new HttpProblem(501, {
          detail: 'This runtime cannot stop a generation started by another request; it ends on its own',
          cause: error,
        })
      }
      if (!stopped || !job) throw problems.notFound('No reply is being generated in this conversation')
      return json(c, { stream_id: job.id, conversation_id: job.conversationId, status: 'stopping' }, 202)
    })
}

/** Resolves on the job's next event, the timeout, or the client going away — whichever is first. */
function nextEvent(job: JobHandle, after: number, timeoutMs: number, signal: AbortSignal, clock: Clock): Promise<void> {
  return new Promise((resolve) => {
    let detach = () => {}
    let settled = false
    let timer: TimerHandle | undefined
    const done = () => {
      if (settled) return
      settled = true
      clock.clearTimeout(timer)
      signal.removeEventListener('abort', done)
      detach()
      resolve()
    }
    timer = clock.setTimeout(done, timeoutMs)
    signal.addEventListener('abort', done, { once: true })
    detach = job.subscribe(after, done)
    if (settled) detach()
  })
}
