import type { ChatEvent, ChatGateway } from '../ws/gateway.ts'
import type { JobEvent, JobHandle } from './jobs.ts'
import type { ChatService } from './service.ts'

/** The job log carries a problem body as an `error` event's data; the hub reads it under `problem`. */
function toChatEvent(event: JobEvent): ChatEvent {
  if (event.type === 'message') return { seq: event.seq, type: 'message', data: { delta: event.delta } }
  return (event.type === 'error' ? { seq: event.seq, type: 'error', data: { problem: event.data } } : event) as ChatEvent
}

/**
 * The chat service as the WebSocket hub sees it. Stop and resume check ownership here, so another
 * user's conversation looks exactly like one with no generation.
 */
export function chatGateway(service: ChatService): ChatGateway {
  const owned = (userId: string, job: JobHandle | undefined) => (job && job.userId === userId ? job : undefined)
  return {
    async start(userId, input) {
      const job = await service.start(userId, {
        message: input.message,
        conversationId: input.conversationId,
        requestId: input.requestId,
      })
      return {
        conversationId: job.conversationId,
        streamId: job.id,
        subscribe: (after, listener) => job.subscribe(after, (event) => listener(toChatEvent(event))),
      }
    },
    async stop(userId, conversationId) {
      return (await owned(userId, await service.jobs.find(conversationId))?.stop()) ?? false
    },
    async resume(userId, conversationId, after, listener) {
      const job = owned(userId, await service.jobs.find(conversationId))
      return job ? job.subscribe(after, (event) => listener(toChatEvent(event))) : null
    },
  }
}
