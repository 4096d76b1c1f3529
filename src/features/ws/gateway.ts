/**
 * What the WebSocket hub needs from the chat pipeline, declared structurally so this feature does
 * not import the chat service. Every generation is a job with an append-only event log; listeners
 * attach from a sequence number and detaching one never stops the job.
 */

/** Removes a listener; calling it again does nothing. */
export type Detach = () => void

/** The problem object carried by an `error` event (RFC 9457 members). */
export interface ChatProblem {
  status: number
  title?: string
  detail?: string
  type?: string
  /** A machine-readable code, when the pipeline has a more precise one than the status. */
  code?: string
}

/** One entry of a job's event log; `seq` increases by one from 1. */
export type ChatEvent =
  | { seq: number; type: 'message'; data: { delta: string } }
  | { seq: number; type: 'tool_call'; data: Record<string, unknown> }
  | { seq: number; type: 'tool_result'; data: Record<string, unknown> }
  | {
      seq: number
      type: 'done'
      data: { message_id: string; conversation_id: string; model: string; tokens_used: number }
    }
  | { seq: number; type: 'error'; data: { problem: ChatProblem } }

export type ChatListener = (event: ChatEvent) => void

export interface ChatStart {
  message: string
  /** Absent: the pipeline creates a conversation. */
  conversationId?: string
  /** The client's `request_id`, for logs and tracing. */
  requestId: string
}

export interface ChatJob {
  conversationId: string
  streamId: string
  /** Replays the events after `afterSeq`, then delivers live ones until `done`/`error`. */
  subscribe(afterSeq: number, listener: ChatListener): Detach
}

export interface ChatGateway {
  /** Starts a generation. Throws an `HttpProblem` (404 unknown conversation, 409 one already running). */
  start(userId: string, input: ChatStart): Promise<ChatJob>
  /** Stops the conversation's active generation; false when there is none (or it is not the user's). */
  stop(userId: string, conversationId: string): boolean | Promise<boolean>
  /** Attaches to the active or just-finished generation after `afterSeq`; null when there is none. */
  resume(
    userId: string,
    conversationId: string,
    afterSeq: number,
    listener: ChatListener,
  ): Detach | null | Promise<Detach | null>
}
