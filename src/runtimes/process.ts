import type { MiddlewareHandler } from 'hono'
import pino, { type Logger } from 'pino'
import { Registry } from 'prom-client'
import type { Context } from 'hono'
import type { UpgradeWebSocket } from 'hono/ws'
import { createApp, type App } from '../app.ts'
import type { Config } from '../config/index.ts'
import { buildDeps, type AppDeps } from '../deps.ts'
import { systemClock } from '../kernel/clock.ts'
import { EventBus, type PersistenceEvents } from '../events/index.ts'
import type { AppEnv } from '../env.ts'
import { announce } from './startup.ts'
import { exitOnUnsupported, type RuntimeName } from './env-config.ts'
import { LogSink } from './log-sink.ts'
import { loadProcessConfig } from './node-config.ts'
import { startTracing } from './otel.ts'
import type { Closer } from './shutdown.ts'
import { openStores } from './stores.ts'
import { openRedis, redisDeps } from './redis.ts'
import { nodeWorkspaceFs } from './workspace-fs.ts'
import { confinedStatic } from './confined-static.ts'

/**
 * Pino writing to stdout through `LogSink`: asynchronous, one write per event-loop turn, bounded.
 * `gracefulShutdown` flushes it before exit, and any other exit writes what is left synchronously.
 * A stdout that fails (a closed pipe: EPIPE) or stalls never stops the server.
 */
export function processLogger(level: Config['server']['log_level']): Logger {
  const sink = new LogSink()
  process.once('exit', () => sink.flushSync())
  return pino({ level }, sink)
}

/** What a process runtime (Node, Bun, Deno) brings to the shared start-up. */
export interface RuntimeCapabilities {
  runtime: RuntimeName
  peerAddress: (c: Context<AppEnv>) => string | undefined
  serveStatic: (root: string) => MiddlewareHandler<AppEnv>
  upgradeWebSocket?: (config: Config) => UpgradeWebSocket<any> | undefined
}

export interface PreparedProcess {
  config: Config
  settings: Config['server']
  logger: Logger
  deps: AppDeps
  app: App
  /** Closed in order after the servers drain; entrypoints push their own. */
  onClose: Closer[]
  /** Draining: `/ready` turns 503 and WebSocket clients are told to reconnect elsewhere (1001). */
  markDraining: () => void
}

/**
 * Everything a process entrypoint does before it serves: config (exit 2 when bad or unsupported
 * here), logger, stores (MongoDB when `MONGODB_URI` is set), the Redis adapters (when `REDIS_URL` is), deps, tracing, the start-up
 * announcements and the app. The entrypoint then only serves and drains.
 */
export async function prepareProcess(capabilities: RuntimeCapabilities): Promise<PreparedProcess> {
  const config = await loadProcessConfig()
  exitOnUnsupported(config, capabilities.runtime)
  const settings = config.server
  const logger = processLogger(settings.log_level)
  const stores = await openStores(config, { logger, clock: systemClock })
  const metrics = new Registry()
  const events = new EventBus<PersistenceEvents>()
  const redis = await openRedis(config, { logger, clock: systemClock, metrics, events })
  const deps = buildDeps({
    config,
    logger,
    stores,
    metrics,
    events,
    ...redisDeps(redis),
    peerAddress: capabilities.peerAddress,
    serveStatic: confinedStatic(settings.static_dir, capabilities.serveStatic(settings.static_dir)),
    upgradeWebSocket: settings.websocket.enabled ? capabilities.upgradeWebSocket?.(config) : undefined,
    workspaceFs: nodeWorkspaceFs(),
  })
  // Started before the app is built; the app's tracer is the API's proxy, so it picks the SDK up.
  const tracing = await startTracing({ logger, serviceName: 'assistant-server', version: deps.version, env: process.env })
  const onClose: Closer[] = [
    // Generations still running after the drain are stopped (their partial replies are kept).
    { name: 'chat jobs', close: async () => deps.chat.jobs.close() },
    ...(redis ? [{ name: 'redis', close: () => redis.close() }] : []),
    { name: 'stores', close: () => stores.close() },
  ]
  if (redis) deps.health.register(redis.health)
  if (tracing) onClose.push({ name: 'tracing', close: () => tracing.shutdown() })
  await announce(deps, { showKey: (line) => void process.stderr.write(`${line}\n`) })
  const app = createApp(deps)
  const markDraining = () => {
    deps.lifecycle.markDraining()
    deps.hub.closeAll()
  }
  return { config, settings, logger, deps, app, onClose, markDraining }
}

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'the address is already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'the address is not available on this machine',
}

/**
 * Runs `listen`, a synchronous bind (`Bun.serve`, `Deno.serve`). A server that cannot bind ends
 * start-up with one line naming the host and port, and exit code 1, not an uncaught exception with a
 * stack. Node, Bun and Deno report a taken port as `EADDRINUSE` (Deno also names its error `AddrInUse`).
 */
export function bindOrExit<T>(at: { host: string; port: number }, logger: Logger, listen: () => T): T {
  try {
    return listen()
  } catch (error) {
    return exitOnListenError(error, at.host, at.port, logger)
  }
}

/** `bindOrExit` for a listen that fails asynchronously (Node's `listen` reports through an event). */
export function exitOnListenError(error: unknown, host: string, port: number, logger?: Logger): never {
  const { code, name, message } = (error ?? {}) as { code?: string; name?: string; message?: string }
  const reason = LISTEN_ERRORS[code ?? ''] ?? (name === 'AddrInUse' ? LISTEN_ERRORS.EADDRINUSE : String(message ?? error).split('\n')[0])
  const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
  logger?.flush()
  process.stderr.write(`assistant-server: cannot listen on ${where}: ${reason}\n`)
  process.exit(1)
}
