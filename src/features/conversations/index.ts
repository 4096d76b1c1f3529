export { conversationJson, conversationRoutes, etagOf, messageJson, type ConversationRoutesOptions } from './conversations.routes.ts'
export { LIMITS, metadataSchema } from './schema.ts'
