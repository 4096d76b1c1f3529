import { Hono, type Context } from 'hono'
import type { AppEnv } from '../../env.ts'
import { problems } from '../../kernel/problem.ts'
import { empty, json } from '../../pipeline/index.ts'
import { validate } from '../../middleware/validation/index.ts'
import { InvalidCursorError, type Conversation, type ConversationStore, type Message } from '../../storage/ports.ts'
import { conversationInput, ID_PATTERN, idempotencyKey, listQuery, showQuery } from './schema.ts'

export interface ConversationRoutesOptions {
  store: ConversationStore
}

const iso = (ms: number) => new Date(ms).toISOString()

/** Strong ETag from the version the store bumps on every change. */
export const etagOf = (conversation: Conversation) => `"v${conversation.version}"`

export function conversationJson(conversation: Conversation) {
  return {
    id: conversation.id,
    title: conversation.title,
    metadata: conversation.metadata,
    created_at: iso(conversation.createdAt),
    updated_at: iso(conversation.updatedAt),
    message_count: conversation.messageCount,
  }
}

export function messageJson(message: Message) {
  return {
    id: message.id,
    role: message.role,
    content: message.content,
    created_at: iso(message.createdAt),
    status: message.status,
    ...(message.tokens === undefined ? {} : { tokens: message.tokens }),
    // The tool calls a reply made, as the chat stored them ({ id, name, arguments, result | error }).
    ...(Array.isArray(message.data?.tools) ? { tools: message.data.tools } : {}),
  }
}

/** The `:id` path parameter; an id that cannot exist is the same 404 as a missing one. */
function idParam(c: Context<AppEnv>): string {
  const id = c.req.param('id') ?? ''
  if (!ID_PATTERN.test(id)) throw problems.notFound('Conversation not found')
  return id
}

/** RFC 9110 §13.1.1: `*` or a list of entity tags, compared strongly. */
function ifMatchAccepts(header: string, etag: string): boolean {
  const value = header.trim()
  return value === '*' || value.split(',').some((tag) => tag.trim() === etag)
}

/**
 * `/conversations`: create, list (newest first, cursor pages), read with paginated messages, update
 * with optimistic concurrency (`ETag` / `If-Match` → 412), delete. Every query is scoped to `c.var.user`.
 * A create with an `Idempotency-Key` the same user sent before answers with the conversation made then.
 */
export function conversationRoutes(options: ConversationRoutesOptions) {
  const { store } = options
  const notFound = () => problems.notFound('Conversation not found')

  return new Hono<AppEnv>()
    .post('/conversations', validate('json', conversationInput), async (c) => {
      const input = c.req.valid('json')
      const key = idempotencyKey(c.req.header('idempotency-key'))
      const conversation = await store.create(c.get('user').id, { title: input.title ?? null, metadata: input.metadata, idempotencyKey: key })
      return json(c, conversationJson(conversation), 201, {
        location: `${c.req.path}/${encodeURIComponent(conversation.id)}`,
        etag: etagOf(conversation),
      })
    })
    .get('/conversations', validate('query', listQuery), async (c) => {
      const { limit, cursor } = c.req.valid('query')
      const page = await store.list(c.get('user').id, { limit, cursor })
      return json(c, { data: page.items.map(conversationJson), next_cursor: page.nextCursor })
    })
    .get('/conversations/:id', validate('query', showQuery), async (c) => {
      const id = idParam(c)
      const query = c.req.valid('query')
      const conversation = await store.get(c.get('user').id, id)
      if (!conversation) throw notFound()
      let messages
      try {
        messages = await store.listMessages(c.get('user').id, id, { limit: query.messages_limit, cursor: query.messages_cursor })
      } catch (error) {
        if (!(error instanceof InvalidCursorError)) throw error
        throw problems.badRequest('Invalid query string: messages_cursor', [
          { path: 'messages_cursor', message: 'not a cursor returned for this conversation' },
        ])
      }
      if (!messages) throw notFound()
      const body = {
        ...conversationJson(conversation),
        messages: messages.items.map(messageJson),
        messages_next_cursor: messages.nextCursor,
      }
      return json(c, body, 200, { etag: etagOf(conversation) })
    })
    .put('/conversations/:id', validate('json', conversationInput), async (c) => {
      const id = idParam(c)
      const input = c.req.valid('json')
      const userId = c.get('user').id
      let expectedVersion: number | undefined
      const ifMatch = c.req.header('if-match')
      if (ifMatch !== undefined) {
        const current = await store.get(userId, id)
        if (!current) throw notFound()
        if (!ifMatchAccepts(ifMatch, etagOf(current))) {
          throw problems.preconditionFailed('If-Match does not match the current ETag; fetch the conversation again')
        }
        // The store re-checks atomically, so a change between the read and the write is a 412 too.
        expectedVersion = current.version
      }
      const updated = await store.update(userId, id, { title: input.title, metadata: input.metadata }, expectedVersion)
      if (!updated) throw notFound()
      return json(c, conversationJson(updated), 200, { etag: etagOf(updated) })
    })
    .delete('/conversations/:id', async (c) => {
      const id = idParam(c)
      if (!(await store.delete(c.get('user').id, id))) throw notFound()
      return empty(c, 204)
    })
}
