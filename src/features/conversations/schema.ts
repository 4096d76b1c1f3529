import { z } from 'zod'
import { problems } from '../../kernel/problem.ts'

/** Size limits on what clients store; each breach is a 400 naming the field. */
export const LIMITS = {
  titleChars: 200,
  metadataBytes: 16 * 1024,
  metadataDepth: 5,
  pageMax: 100,
  pageDefault: 20,
  messagesPageDefault: 50,
}

export const utf8Bytes = (text: string) => new TextEncoder().encode(text).length

/** Whether `value` nests objects or arrays deeper than `limit` levels; never looks below `limit + 1`. */
function deeperThan(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== 'object') return false
  if (limit === 0) return true
  for (const child of Array.isArray(value) ? value : Object.values(value)) if (deeperThan(child, limit - 1)) return true
  return false
}

/** A JSON object of at most 16 KiB (UTF-8) nesting at most 5 levels (the object itself is level 1). */
export const metadataSchema = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  if (deeperThan(value, LIMITS.metadataDepth)) {
    ctx.addIssue({ code: 'custom', message: `nests deeper than ${LIMITS.metadataDepth} levels` })
  } else if (utf8Bytes(JSON.stringify(value)) > LIMITS.metadataBytes) {
    ctx.addIssue({ code: 'custom', message: `exceeds ${LIMITS.metadataBytes} bytes as JSON` })
  }
})

/** `limit` 1–100 (default 20) and an opaque `cursor`, as query-string values. */
export function pageQuery(defaultLimit = LIMITS.pageDefault) {
  return {
    limit: z.coerce.number().int().min(1).max(LIMITS.pageMax).default(defaultLimit),
    cursor: z.string().min(1).max(1024).optional(),
  }
}

export const conversationInput = z.strictObject({
  title: z.string().trim().min(1).max(LIMITS.titleChars).nullable().optional(),
  metadata: metadataSchema.optional(),
})

export const listQuery = z.object(pageQuery())

export const showQuery = z.object({
  messages_limit: z.coerce.number().int().min(1).max(LIMITS.pageMax).default(LIMITS.messagesPageDefault),
  messages_cursor: z.string().min(1).max(1024).optional(),
})

/** Ids we generate are UUIDs; callers may choose AI SDK-style ids. Anything else cannot exist: a 404. */
export { ID_PATTERN } from '../../kernel/ids.ts'

/** Visible ASCII, at most 255 characters (draft-ietf-httpapi-idempotency-key-header: a quoted sf-string; bare is accepted too). */
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/

/**
 * The `Idempotency-Key` request header of a create, unquoted; undefined when absent. A malformed one is
 * a 400 that changes nothing.
 */
export function idempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const value = header.trim()
  const key = value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value
  if (!IDEMPOTENCY_KEY.test(key) || key.trim() === '') {
    throw problems.badRequest('Invalid header: Idempotency-Key', [{ path: 'Idempotency-Key', message: 'must be 1–255 visible ASCII characters' }])
  }
  return key
}
