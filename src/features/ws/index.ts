export { type ChatEvent, type ChatGateway, type ChatJob, type ChatListener, type ChatProblem, type ChatStart, type Detach } from './gateway.ts'
export { CloseCode, Hub, hubSettings, type HubOptions } from './hub.ts'
export { messageJson, parseClientFrame } from './protocol.ts'
export { wsRoutes, type WsRoutesOptions } from './ws.routes.ts'
