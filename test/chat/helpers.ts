import { Hono, type MiddlewareHandler } from 'hono'
import { loadConfig } from '../../src/config/index.ts'
import type { AppEnv } from '../../src/env.ts'
import { createChat, type ChatTools } from '../../src/features/chat/index.ts'
import { systemClock, type Clock } from '../../src/kernel/clock.ts'
import { auth, Authenticator } from '../../src/middleware/auth/index.ts'
import { notFound, recovery } from '../../src/middleware/recovery/index.ts'
import { requestId } from '../../src/middleware/request-id/index.ts'
import { securityHeaders, withDocumentHeaders } from '../../src/middleware/security-headers/index.ts'
import { createBuiltinProvider } from '../../src/providers/builtin/index.ts'
import type { ChatProvider, ChatRequest, ProviderEvent } from '../../src/providers/ports.ts'
import { createMemoryStores } from '../../src/storage/memory/index.ts'
import type { ConversationStore } from '../../src/storage/ports.ts'
import { AUTH, KEYS, memoryLogger } from '../helpers/app.ts'

export { AUTH }

export interface ChatAppOptions {
  env?: Record<string, string>
  provider?: ChatProvider
  tools?: ChatTools
  /** Mounted before the chat routes (e.g. other features, static files for the widget). */
  extra?: (app: Hono<AppEnv>, stores: ReturnType<typeof createMemoryStores>) => void
  serveStatic?: MiddlewareHandler<AppEnv>
  /** A `ManualClock` for tests about budgets, heartbeats, long-polls and retention. Default: the system clock. */
  clock?: Clock
}

/**
 * A tiny app: request ids, API-key auth (alice and bob), problem responses, and the chat routes
 * under /api/v1 on fresh memory stores and the given provider (built-in without delay by default).
 */
export async function chatApp(options: ChatAppOptions = {}) {
  const config = await loadConfig({ env: { API_KEYS: `alice:${KEYS.alice},bob:${KEYS.bob}`, ...options.env } })
  const { logger } = memoryLogger()
  const clock = options.clock ?? systemClock
  const stores = createMemoryStores({ clock })
  const provider = options.provider ?? createBuiltinProvider({ chunkDelayMs: 0 })
  const chat = createChat({ config, conversations: stores.conversations, memory: stores.memory, provider, tools: options.tools, logger, clock })
  const app = new Hono<AppEnv>()
  app.use(requestId())
  app.use(securityHeaders(config.server.security))
  app.use('/api/*', auth({ authenticator: new Authenticator(config.auth) }))
  options.extra?.(app, stores)
  app.route('/api/v1', chat.routes)
  if (options.serveStatic) app.use('/*', withDocumentHeaders(config.server.security, options.serveStatic))
  app.onError(recovery({ logger }))
  app.notFound(notFound(app))
  const post = (path: string, body: unknown, user: keyof typeof AUTH = 'alice', headers: Record<string, string> = {}) =>
    app.request(`/api/v1${path}`, { method: 'POST', headers: { ...AUTH[user], 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  const get = (path: string, user: keyof typeof AUTH = 'alice', headers: Record<string, string> = {}) =>
    app.request(`/api/v1${path}`, { headers: { ...AUTH[user], ...headers } })
  return { app, chat, stores, config, post, get }
}

/** A provider the test drives: it yields what `push()` gives it and finishes on `end()`. Honors abort. */
/** Yields one delta, then holds every job open until `release()`. */
export function heldProvider() {
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  const provider: ChatProvider = {
    name: 'held',
    defaultModel: 'held-1',
    async *stream() {
      yield { type: 'text', delta: 'first ' }
      await released
      yield { type: 'text', delta: 'second' }
      yield { type: 'finish', reason: 'stop', model: 'held-1' }
    },
  }
  return { provider, release }
}

/** Active timers of this process (leak checks). */
export const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length

/** How many of the user's conversations hold a question and its saved reply (two messages). */
export async function answeredConversations(store: ConversationStore, userId: string): Promise<number> {
  let answered = 0
  let cursor: string | undefined
  do {
    const page = await store.list(userId, { limit: 100, cursor })
    answered += page.items.filter((conversation) => conversation.messageCount === 2).length
    cursor = page.nextCursor ?? undefined
  } while (cursor)
  return answered
}

export function controlledProvider() {
  const queue: ProviderEvent[] = []
  let wake: (() => void) | null = null
  let ended = false
  const requests: ChatRequest[] = []
  const notify = () => {
    wake?.()
    wake = null
  }
  const provider: ChatProvider = {
    name: 'controlled',
    defaultModel: 'controlled-1',
    async *stream(request) {
      requests.push(request)
      const aborted = new Promise<never>((_, reject) => {
        const fail = () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }))
        if (request.signal.aborted) fail()
        request.signal.addEventListener('abort', fail, { once: true })
      })
      aborted.catch(() => {})
      while (true) {
        while (queue.length) yield queue.shift()!
        if (ended) break
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted])
      }
      yield { type: 'finish', reason: 'stop', model: 'controlled-1', usage: { promptTokens: 5, completionTokens: 7, totalTokens: 12 } }
    },
  }
  return {
    provider,
    requests,
    push(...deltas: string[]) {
      for (const delta of deltas) queue.push({ type: 'text', delta })
      notify()
    },
    end() {
      ended = true
      notify()
    },
  }
}

/** A provider that answers each round from a script; round n gets `rounds[n]`. */
export function scriptedProvider(rounds: ((request: ChatRequest) => ProviderEvent[])[]) {
  const requests: ChatRequest[] = []
  const provider: ChatProvider = {
    name: 'scripted',
    defaultModel: 'scripted-1',
    async *stream(request) {
      requests.push({ ...request, messages: [...request.messages] })
      const script = rounds[Math.min(requests.length - 1, rounds.length - 1)]
      for (const event of script(request)) yield event
    },
  }
  return { provider, requests }
}

export interface Frame {
  event?: string
  id?: string
  data?: string
  comment?: string
}

/** Parses SSE text into frames (comments kept as their own frames). */
export function parseFrames(text: string): Frame[] {
  const frames: Frame[] = []
  for (const block of text.split('\n\n')) {
    if (block === '') continue
    const frame: Frame = {}
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) frame.comment = line.slice(1).trim()
      else {
        const colon = line.indexOf(':')
        const field = line.slice(0, colon) as 'event' | 'id' | 'data'
        const value = line.slice(colon + 1).replace(/^ /, '')
        frame[field] = frame[field] === undefined ? value : `${frame[field]}\n${value}`
      }
    }
    frames.push(frame)
  }
  return frames
}

/**
 * Reads an SSE body with `getReader()` until `stop(frames)` says so or the body ends; with
 * `cancel` the reader is cancelled afterwards (the client hanging up). Bounded by `timeoutMs`.
 */
export async function readFrames(res: Response, options: { stop?: (frames: Frame[]) => boolean; cancel?: boolean; timeoutMs?: number } = {}): Promise<Frame[]> {
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  let frames: Frame[] = []
  const deadline = Date.now() + (options.timeoutMs ?? 5_000)
  while (Date.now() < deadline) {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(1, deadline - Date.now()))))
    const result = await Promise.race([reader.read(), timeout])
    clearTimeout(timer)
    if (result === 'timeout') throw new Error(`no complete SSE answer within ${options.timeoutMs ?? 5_000} ms; got:\n${text}`)
    if (result.done) break
    text += decoder.decode(result.value, { stream: true })
    const complete = text.slice(0, text.lastIndexOf('\n\n') + 2)
    frames = parseFrames(complete)
    if (options.stop?.(frames)) {
      if (options.cancel) await reader.cancel()
      else reader.releaseLock()
      return frames
    }
  }
  return parseFrames(text)
}

export const events = (frames: Frame[]) => frames.filter((frame) => frame.event !== undefined)

/** Waits (bounded) until `check()` is true. */
export async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}
