import { z } from 'zod'
import { ID_PATTERN, ID_RULE } from '../../kernel/ids.ts'
import type { Message } from '../../storage/ports.ts'

const conversationId = z.string().regex(ID_PATTERN, ID_RULE)
const requestId = z.string().min(1).max(200)

/** Frames a client may send. Unknown members are ignored; `type` selects the schema. */
export const clientFrameSchemas = {
  chat: z.object({
    type: z.literal('chat'),
    request_id: requestId,
    message: z.string().min(1),
    conversation_id: conversationId.optional(),
  }),
  stop: z.object({ type: z.literal('stop'), conversation_id: conversationId }),
  resume: z.object({
    type: z.literal('resume'),
    conversation_id: conversationId,
    after: z.number().int().min(0).default(0),
    request_id: requestId.optional(),
  }),
  subscribe: z.object({ type: z.literal('subscribe'), conversation_id: conversationId }),
  unsubscribe: z.object({ type: z.literal('unsubscribe'), conversation_id: conversationId }),
  ping: z.object({ type: z.literal('ping') }),
  /** The answer to the hub's app-level ping on runtimes without a ping API. */
  pong: z.object({ type: z.literal('pong') }),
} as const

export type ClientFrameType = keyof typeof clientFrameSchemas
export type ClientFrame = { [K in ClientFrameType]: z.infer<(typeof clientFrameSchemas)[K]> }[ClientFrameType]

/** Codes of `{type: "error"}` frames. */
export type ErrorCode =
  | 'bad_json'
  | 'invalid_frame'
  | 'unknown_type'
  | 'unsupported_data'
  | 'rate_limited'
  | 'duplicate_request'
  | 'too_many_subscriptions'
  | 'invalid_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'too_large'
  | 'unavailable'
  | 'timeout'
  | 'internal'

export type ParseResult = { ok: true; frame: ClientFrame } | { ok: false; code: ErrorCode; message: string; requestId?: string }

/** Parses one text frame; every failure names what was wrong and leaves the connection usable. */
export function parseClientFrame(text: string): ParseResult {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { ok: false, code: 'bad_json', message: 'The frame is not valid JSON' }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'invalid_frame', message: 'A frame must be a JSON object with a "type" member' }
  }
  const type = (value as { type?: unknown }).type
  if (typeof type !== 'string' || !Object.hasOwn(clientFrameSchemas, type)) {
    return {
      ok: false,
      code: 'unknown_type',
      message: `Unknown frame type; expected one of ${Object.keys(clientFrameSchemas).join(', ')}`,
    }
  }
  const result = clientFrameSchemas[type as ClientFrameType].safeParse(value)
  if (result.success) return { ok: true, frame: result.data as ClientFrame }
  const issue = result.error.issues[0]
  const field = issue.path.length > 0 ? issue.path.join('.') : 'frame'
  const rawRequestId = (value as { request_id?: unknown }).request_id
  return {
    ok: false,
    code: 'invalid_frame',
    message: `${field}: ${issue.message}`,
    ...(typeof rawRequestId === 'string' ? { requestId: rawRequestId } : {}),
  }
}

/** The error code a client sees for an HTTP status from the pipeline. */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
    case 422:
      return 'invalid_request'
    case 401:
      return 'unauthorized'
    case 403:
      return 'forbidden'
    case 404:
      return 'not_found'
    case 409:
      return 'conflict'
    case 413:
      return 'too_large'
    case 429:
      return 'rate_limited'
    case 503:
      return 'unavailable'
    case 504:
      return 'timeout'
    default:
      return 'internal'
  }
}

/** A stored message as the API renders it (snake_case, ISO 8601 times). */
export function messageJson(message: Message): Record<string, unknown> {
  return {
    id: message.id,
    conversation_id: message.conversationId,
    seq: message.seq,
    role: message.role,
    content: message.content,
    status: message.status,
    created_at: new Date(message.createdAt).toISOString(),
    ...(message.tokens === undefined ? {} : { tokens: message.tokens }),
    ...(message.data === undefined ? {} : { data: message.data }),
  }
}
