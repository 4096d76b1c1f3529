export { EventBus, type EventBusOptions, type Listener, type Unsubscribe } from './bus.ts'
export { withMessageEvents, type PersistenceEvents } from './message-events.ts'
export type { SharedEvents } from './shared.ts'
