import type { Connection } from './connection.ts'
import type { FrameSender } from './connections.ts'
import type { ChatEvent, ChatGateway, ChatListener, Detach } from './gateway.ts'
import { codeForStatus } from './protocol.ts'

/**
 * Chat over WebSocket: `chat`, `stop` and `resume` frames through the chat gateway, each job's events
 * forwarded as frames until `done`/`error`. A client that goes away only detaches; the jobs run on
 * and persist their replies.
 */
export class ChatStreams {
  readonly #gateway: ChatGateway
  readonly #sender: FrameSender

  constructor(gateway: ChatGateway, sender: FrameSender) {
    this.#gateway = gateway
    this.#sender = sender
  }

  async chat(connection: Connection, requestId: string, message: string, conversationId: string | undefined): Promise<void> {
    const streams = (connection.streams ??= new Map())
    if (streams.has(requestId)) {
      this.#sender.error(connection, 'duplicate_request', 'A stream with this request_id is already running', requestId)
      return
    }
    // Reserved before the await so a second frame with the same id is refused.
    streams.set(requestId, () => {})
    let job
    try {
      job = await this.#gateway.start(connection.userId, { message, conversationId, requestId })
    } catch (error) {
      connection.streams?.delete(requestId)
      this.#sender.failed(connection, error, requestId)
      return
    }
    if (!connection.open) return
    this.#sender.send(connection, { type: 'started', request_id: requestId, conversation_id: job.conversationId, stream_id: job.streamId })
    await this.#attach(connection, requestId, requestId, (listener) => job.subscribe(0, listener))
  }

  async stop(connection: Connection, conversationId: string): Promise<void> {
    const stopped = await this.#gateway.stop(connection.userId, conversationId)
    if (stopped) this.#sender.send(connection, { type: 'stopped', conversation_id: conversationId })
    else this.#sender.error(connection, 'not_found', 'No active generation for this conversation')
  }

  async resume(connection: Connection, conversationId: string, after: number, requestId: string | undefined): Promise<void> {
    const key = requestId ?? `resume\n${conversationId}`
    const streams = (connection.streams ??= new Map())
    // A second resume of the same stream replaces the first rather than duplicating every frame.
    streams.get(key)?.()
    const attached = await this.#attach(connection, key, requestId ?? null, (listener) =>
      this.#gateway.resume(connection.userId, conversationId, after, listener),
    )
    if (!attached && connection.open) {
      this.#sender.send(connection, { type: 'no_active', conversation_id: conversationId, request_id: requestId ?? null })
    }
  }

  /** Detaches every stream of a connection that went away; the jobs keep running. */
  detachAll(connection: Connection): void {
    if (!connection.streams) return
    for (const detach of connection.streams.values()) detach()
    connection.streams = null
  }

  /** Forwards one job's events until `done`/`error` or disconnect; false when there was nothing to attach to. */
  async #attach(
    connection: Connection,
    key: string,
    requestId: string | null,
    open: (listener: ChatListener) => Detach | null | Promise<Detach | null>,
  ): Promise<boolean> {
    let finished = false
    let detach: Detach | null = null
    const stop = () => {
      finished = true
      detach?.()
    }
    const listener: ChatListener = (event) => {
      if (finished || !connection.open) return
      if (this.#forward(connection, requestId, event)) {
        if (connection.streams?.get(key) === stop) connection.streams.delete(key)
        stop()
      }
    }
    connection.streams?.set(key, stop)
    detach = await open(listener)
    if (detach === null) {
      if (connection.streams?.get(key) === stop) connection.streams.delete(key)
      return false
    }
    // Finished during replay, or the client left while the gateway was attaching.
    if (finished || !connection.open) detach()
    return true
  }

  /** Sends one job event as a frame; true when it was the last. */
  #forward(connection: Connection, requestId: string | null, event: ChatEvent): boolean {
    switch (event.type) {
      case 'message':
        this.#sender.send(connection, { type: 'delta', request_id: requestId, seq: event.seq, delta: event.data.delta })
        return false
      case 'tool_call':
      case 'tool_result':
        this.#sender.send(connection, { type: event.type, request_id: requestId, seq: event.seq, data: event.data })
        return false
      case 'done':
        this.#sender.send(connection, { type: 'done', request_id: requestId, seq: event.seq, ...event.data })
        return true
      case 'error': {
        const problem = event.data.problem
        this.#sender.send(connection, {
          type: 'error',
          request_id: requestId,
          seq: event.seq,
          code: problem.code ?? codeForStatus(problem.status),
          message: problem.detail ?? problem.title ?? 'The generation failed',
        })
        return true
      }
    }
  }
}
