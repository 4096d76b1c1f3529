import { InvalidCursorError } from './ports.ts'

/**
 * Opaque page cursors: base64url of a small JSON object tagged with the listing it belongs to, so a
 * memory cursor handed to the conversation list is rejected too. Web APIs only (btoa/atob), so every
 * adapter and runtime shares one format. Cursors are not signed: a forged one can only move within
 * the caller's own records, because every query is scoped by the user id.
 */

/** Position after the last conversation of a page: newest `updatedAt` first, ties by id descending. */
export interface ConversationPosition {
  updatedAt: number
  id: string
}

/** Position after the last memory item of a page: newest `createdAt` first, ties by id descending. */
export interface MemoryPosition {
  createdAt: number
  id: string
}

const MAX_CURSOR_CHARS = 1024

function encode(value: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(value))
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
}

function decode(cursor: string): Record<string, unknown> {
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw new InvalidCursorError()
  }
  try {
    const binary = atob(cursor.replaceAll('-', '+').replaceAll('_', '/'))
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0))
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidCursorError()
    return value as Record<string, unknown>
  } catch {
    throw new InvalidCursorError()
  }
}

const isTime = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0
const isId = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= 256

export function encodeConversationCursor(position: ConversationPosition): string {
  return encode({ k: 'c', u: position.updatedAt, i: position.id })
}

/** Throws `InvalidCursorError` for anything that is not a conversation cursor. */
export function decodeConversationCursor(cursor: string): ConversationPosition {
  const value = decode(cursor)
  if (value.k !== 'c' || !isTime(value.u) || !isId(value.i)) throw new InvalidCursorError()
  return { updatedAt: value.u, id: value.i }
}

export function encodeMessageCursor(seq: number): string {
  return encode({ k: 'm', s: seq })
}

/** The `seq` of the last message already seen. Throws `InvalidCursorError`. */
export function decodeMessageCursor(cursor: string): number {
  const value = decode(cursor)
  if (value.k !== 'm' || !isTime(value.s)) throw new InvalidCursorError()
  return value.s
}

export function encodeMemoryCursor(position: MemoryPosition): string {
  return encode({ k: 'n', c: position.createdAt, i: position.id })
}

/** Throws `InvalidCursorError` for anything that is not a memory cursor. */
export function decodeMemoryCursor(cursor: string): MemoryPosition {
  const value = decode(cursor)
  if (value.k !== 'n' || !isTime(value.c) || !isId(value.i)) throw new InvalidCursorError()
  return { createdAt: value.c, id: value.i }
}
