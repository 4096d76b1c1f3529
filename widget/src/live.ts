// A reply being generated: sent over POST /chat/stream, followed as SSE, and when the connection
// drops, resumed from the last event id (GET /conversations/:id/stream, Last-Event-ID) with backoff.
import { ApiError, errorOf, problemMessage, type Api, type ToolTrace } from './api.ts'
import { readEvents, type SseFrame } from './sse.ts'
import type { ReplyView, Thread } from './thread.ts'

/** Reconnection attempts after a drop, and the backoff between them (doubling, capped). */
const MAX_RECONNECTS = 8
const FIRST_BACKOFF_MS = 500
const MAX_BACKOFF_MS = 8_000

export interface LiveHooks {
  /** The small state line by the composer ("Reconnecting…", "Stopping…", or '' to clear). */
  status(text: string, kind?: 'info' | 'error'): void
  busy(busy: boolean): void
  /** The server named the conversation of a new chat. */
  created(conversationId: string): void
  /** The reply ended (complete, stopped, failed or lost). */
  finished(conversationId: string): void
}

interface Generation {
  conversationId: string
  lastEventId: number
  controller: AbortController
  reply: ReplyView
  finished: boolean
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export class Live {
  readonly #api: Api
  readonly #thread: Thread
  readonly #hooks: LiveHooks
  #current: Generation | null = null

  constructor(api: Api, thread: Thread, hooks: LiveHooks) {
    this.#api = api
    this.#thread = thread
    this.#hooks = hooks
  }

  get running(): boolean {
    return !!this.#current && !this.#current.finished
  }

  /**
   * Sends a message (or, with `regenerate`, asks for the last reply again). Rejects with an ApiError
   * when the server refuses it, before anything streams, so the caller can keep the typed text;
   * once accepted, resolves with the reply's end (`done`).
   */
  async send(conversationId: string | null, message: string, regenerate = false): Promise<{ done: Promise<void> }> {
    const controller = new AbortController()
    const body: Record<string, unknown> = { message }
    if (conversationId) body.conversation_id = conversationId
    if (regenerate) body.regenerate = true
    let res: Response
    try {
      res = await this.#api.fetch('/chat/stream', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: controller.signal })
    } catch {
      throw new ApiError(0, 'The server could not be reached; check the connection and send again.')
    }
    if (res.status === 401) this.#api.onUnauthorized()
    if (!res.ok) throw await errorOf(res)
    const id = res.headers.get('x-conversation-id') ?? conversationId ?? ''
    if (id !== conversationId) this.#hooks.created(id)
    const generation = this.#begin(id, controller)
    return { done: this.#follow(generation, res) }
  }

  /** Follows a conversation's running reply from its first event (after a reload, or another tab's). */
  async attach(conversationId: string): Promise<void> {
    const controller = new AbortController()
    const res = await this.#api.fetch(`/conversations/${encodeURIComponent(conversationId)}/stream`, { headers: { 'last-event-id': '0' }, signal: controller.signal }).catch(() => null)
    if (!res || res.status !== 200) return void res?.body?.cancel()
    await this.#follow(this.#begin(conversationId, controller), res)
  }

  /** Stops following (the reply goes on on the server), e.g. when another conversation is opened. */
  detach(): void {
    const current = this.#current
    if (!current || current.finished) return
    current.finished = true
    current.controller.abort()
    current.reply.setStreaming(false)
    this.#hooks.busy(false)
    this.#hooks.status('')
  }

  async stop(): Promise<void> {
    const current = this.#current
    if (!current || current.finished) return
    this.#hooks.status('Stopping…')
    try {
      // The stream then ends with `done` (status "stopped"), which closes the reply.
      await this.#api.send('POST', `/conversations/${encodeURIComponent(current.conversationId)}/stop`)
    } catch (error) {
      this.#hooks.status((error as Error).message, 'error')
    }
  }

  #begin(conversationId: string, controller: AbortController): Generation {
    const reply = this.#thread.addReply()
    reply.setStreaming(true)
    const generation: Generation = { conversationId, lastEventId: 0, controller, reply, finished: false }
    this.#current = generation
    this.#hooks.busy(true)
    this.#hooks.status('')
    return generation
  }

  #finish(generation: Generation, note?: string, kind: 'info' | 'error' = 'info'): void {
    if (generation.finished) return
    generation.finished = true
    generation.reply.setStreaming(false)
    if (note) generation.reply.note(note, kind)
    if (this.#current !== generation) return
    this.#hooks.busy(false)
    this.#hooks.status(kind === 'error' && note ? note : '', kind)
    this.#hooks.finished(generation.conversationId)
  }

  #onFrame(generation: Generation, frame: SseFrame): void {
    if (generation.finished) return
    if (frame.id) generation.lastEventId = Number(frame.id)
    let data: Record<string, unknown>
    try {
      data = JSON.parse(frame.data)
    } catch {
      return
    }
    if (frame.event === 'message') generation.reply.append(String(data.delta ?? ''))
    else if (frame.event === 'tool_call') this.#thread.addToolCall(data as unknown as ToolTrace, generation.reply.item)
    else if (frame.event === 'tool_result') this.#thread.toolResult(data as unknown as ToolTrace)
    else if (frame.event === 'done') this.#finish(generation, data.status === 'stopped' ? 'Stopped' : data.status === 'error' ? 'The reply failed' : undefined)
    else if (frame.event === 'error') this.#finish(generation, `Error: ${problemMessage(data, 500)}`, 'error')
  }

  /** Reads `res` to its end; a body that ends before `done` or `error` is a dropped connection. */
  async #follow(generation: Generation, res: Response): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await readEvents(res.body!, (frame) => this.#onFrame(generation, frame))
      } catch {
        // The connection broke; resume below unless we let go on purpose.
      }
      if (generation.finished) return
      const next = await this.#reconnect(generation, attempt)
      if (!next) return
      res = next
    }
  }

  /** Waits (backoff), then asks for the events after the last one seen; null when giving up. */
  async #reconnect(generation: Generation, previous: number): Promise<Response | null> {
    for (let attempt = previous; attempt < MAX_RECONNECTS; attempt++) {
      this.#hooks.status('Reconnecting…')
      generation.reply.item.classList.add('reconnecting')
      await sleep(Math.min(FIRST_BACKOFF_MS * 2 ** Math.min(attempt, 10), MAX_BACKOFF_MS))
      if (generation.finished) return null
      const controller = new AbortController()
      generation.controller = controller
      let res: Response
      try {
        res = await this.#api.fetch(`/conversations/${encodeURIComponent(generation.conversationId)}/stream`, {
          headers: { 'last-event-id': String(generation.lastEventId) },
          signal: controller.signal,
        })
      } catch {
        continue
      }
      if (generation.finished) return null
      generation.reply.item.classList.remove('reconnecting')
      if (res.status === 200) {
        this.#hooks.status('')
        return res
      }
      if (res.status === 204) this.#finish(generation, 'The connection was lost and the reply is no longer being generated; reopen the conversation to see what was saved.', 'error')
      else this.#finish(generation, `Error: ${(await errorOf(res)).message}`, 'error')
      return null
    }
    generation.reply.item.classList.remove('reconnecting')
    this.#finish(generation, 'The connection was lost; reopen the conversation to see the saved reply.', 'error')
    return null
  }
}
