import type { Tracer } from '@opentelemetry/api'
import { trace } from '@opentelemetry/api'
import type { Context, MiddlewareHandler } from 'hono'
import type { UpgradeWebSocket } from 'hono/ws'
import type { Logger } from 'pino'
import { Registry } from 'prom-client'
import type { Config } from './config/index.ts'
import type { AppEnv } from './env.ts'
import { HealthChecks, Lifecycle } from './features/health/index.ts'
import { Authenticator } from './middleware/auth/authenticator.ts'
import { MemoryBucketStore, type BucketStore } from './middleware/rate-limit/bucket-store.ts'
import { createToolRegistry, type ToolRegistry, type WorkspaceFs } from './features/tools/index.ts'
import { createProvider } from './providers/index.ts'
import { EventBus, withMessageEvents, type PersistenceEvents, type SharedEvents } from './events/index.ts'
import { chatGateway, chatServiceFromConfig, type ChatService, type JobManager } from './features/chat/index.ts'
import { Hub, hubSettings } from './features/ws/index.ts'
import type { ChatProvider } from './providers/ports.ts'
import { systemClock, type Clock } from './kernel/clock.ts'
import { createMemoryStores } from './storage/memory/index.ts'
import type { Stores } from './storage/ports.ts'
import { withQuotas } from './storage/quotas.ts'

/** Everything the app needs from the outside world. Entrypoints and tests build it; the app owns none of it. */
export interface AppDeps {
  config: Config
  logger: Logger
  /** Prometheus registry the metrics middleware and `/metrics` use. */
  metrics: Registry
  tracer: Tracer
  clock: Clock
  health: HealthChecks
  lifecycle: Lifecycle
  authenticator: Authenticator
  rateLimitStore: BucketStore
  /** Conversations and memory; the in-memory adapter unless the entrypoint opened MongoDB (`openStores`). */
  stores: Stores
  /** The model: the built-in stand-in unless `ai.base_url` names an OpenAI-compatible endpoint. */
  provider: ChatProvider
  /** Tools offered at `/tools` and to the model during chat. */
  tools: ToolRegistry
  /** The runtime's filesystem for the workspace tools (Node, Bun, Deno); absent on Workers. */
  workspaceFs?: WorkspaceFs
  /** Persistence announcements (a message saved through any transport), for WebSocket subscribers. */
  events: EventBus<PersistenceEvents>
  /** Persistence events from other instances (the Redis relay); absent in one process. */
  sharedEvents?: SharedEvents
  /** Where generations live; default in memory, the Redis adapter with several instances. Used when `chat` is built here. */
  jobs?: JobManager
  /** The one chat pipeline behind JSON, SSE, long-poll and WebSocket; its jobs live in `chat.jobs`. */
  chat: ChatService
  /** WebSocket clients and subscriptions; the entrypoint closes it (1001) on shutdown. */
  hub: Hub
  /** The socket peer address, from the runtime's `getConnInfo`. */
  peerAddress: (c: Context<AppEnv>) => string | undefined
  /** The runtime's static file middleware for `public/`, if it serves files itself. */
  serveStatic?: MiddlewareHandler<AppEnv>
  /** The runtime's WebSocket upgrade helper. */
  upgradeWebSocket?: UpgradeWebSocket<any>
  version: string
}

export type RuntimeDeps = Pick<AppDeps, 'config' | 'logger'> & Partial<Omit<AppDeps, 'config' | 'logger'>>

/** Fills what the runtime did not supply with runtime-neutral defaults. */
export function buildDeps(runtime: RuntimeDeps): AppDeps {
  const { config, logger } = runtime
  const clock = runtime.clock ?? systemClock
  const events = runtime.events ?? new EventBus<PersistenceEvents>()
  const quotas = config.quotas
  const opened = withQuotas(runtime.stores ?? createMemoryStores({ clock }), {
    conversations: quotas.conversations,
    messagesPerConversation: quotas.messages_per_conversation,
    memoryItems: quotas.memory_items,
  })
  // Every message saved through the store is announced, whichever transport saved it.
  const stores = { ...opened, conversations: withMessageEvents(opened.conversations, events), close: () => opened.close() }
  const metrics = runtime.metrics ?? new Registry()
  const provider = runtime.provider ?? createProvider(config.ai, { logger, clock })
  const tools =
    runtime.tools ?? createToolRegistry({ memory: stores.memory, config: config.tools, workspaceFs: runtime.workspaceFs, clock })
  const rateLimitStore = runtime.rateLimitStore ?? new MemoryBucketStore({ clock })
  const chat =
    runtime.chat ??
    chatServiceFromConfig({
      config,
      conversations: stores.conversations,
      memory: stores.memory,
      provider,
      tools,
      logger,
      clock,
      startBudgets: rateLimitStore,
      jobs: runtime.jobs,
    })
  const deps: AppDeps = {
    tracer: trace.getTracer('assistant-server'),
    health: new HealthChecks({ clock }),
    lifecycle: new Lifecycle(),
    authenticator: new Authenticator(config.auth),
    rateLimitStore,
    peerAddress: () => undefined,
    version: '0.1.0',
    hub:
      runtime.hub ??
      new Hub({
        gateway: chatGateway(chat),
        conversations: stores.conversations,
        events,
        shared: runtime.sharedEvents,
        registry: metrics,
        logger,
        clock,
        ...hubSettings(config.server.websocket),
      }),
    ...runtime,
    clock,
    events,
    stores,
    metrics,
    provider,
    tools,
    chat,
  }
  if (deps.stores.health) deps.health.register(deps.stores.health)
  if (deps.provider.health) deps.health.register(deps.provider.health)
  return deps
}
