import { HttpProblem, problemBody } from '../../kernel/problem.ts'
import type { ChatJob, DataEvent } from './jobs.ts'
import type { ReplyStatus } from './persistence.ts'

/** What a finished job produced; also the `POST /chat` body. */
export interface ChatResult {
  message: string
  conversation_id: string
  message_id: string | null
  /** The model that answered, as the provider reported it. */
  model: string
  tokens_used: number
  status: ReplyStatus
}

/**
 * An `error` event's data: the problem body, plus `retry_after` (seconds) when the problem carries
 * a `Retry-After` header, since the log has no headers. `POST /chat` turns it back into the header.
 */
export function errorEventData(problem: HttpProblem, requestId: string): Record<string, unknown> {
  const body = problemBody(problem, requestId)
  const retryAfter = problem.headers?.['retry-after']
  return retryAfter !== undefined && /^\d+$/.test(retryAfter) ? { ...body, retry_after: Number(retryAfter) } : body
}

/** The `POST /chat` answer from a finished job's log; a failed job throws its problem. */
export function resultOf(job: Pick<ChatJob, 'events'>): ChatResult {
  let message = ''
  for (const event of job.events) if (event.type === 'message') message += event.delta
  const last = job.events[job.events.length - 1] as DataEvent
  if (last?.type === 'error') throw problemOf(last.data)
  const done = last.data as Omit<ChatResult, 'message'>
  return {
    message,
    conversation_id: done.conversation_id,
    message_id: done.message_id,
    model: done.model,
    tokens_used: done.tokens_used,
    status: done.status,
  }
}

const BODY_MEMBERS = new Set(['type', 'title', 'status', 'detail', 'request_id', 'retry_after'])

function problemOf(data: Record<string, unknown>): HttpProblem {
  const extensions = Object.fromEntries(Object.entries(data).filter(([name]) => !BODY_MEMBERS.has(name)))
  return new HttpProblem(data.status as number, {
    detail: data.detail as string | undefined,
    title: data.title as string | undefined,
    type: data.type as string | undefined,
    extensions: Object.keys(extensions).length > 0 ? extensions : undefined,
    headers: typeof data.retry_after === 'number' ? { 'retry-after': String(data.retry_after) } : undefined,
  })
}
