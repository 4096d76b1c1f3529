import type { Logger } from 'pino'
import { createClient } from 'redis'

/** A Lua script run with `EVALSHA`, falling back to `EVAL` (unknown to the server, or `SCRIPT` blocked by a proxy). */
export class LuaScript {
  readonly source: string
  #sha: Promise<string> | undefined

  constructor(source: string) {
    this.source = source
  }

  sha1(): Promise<string> {
    this.#sha ??= crypto.subtle.digest('SHA-1', new TextEncoder().encode(this.source)).then((digest) =>
      [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join(''),
    )
    return this.#sha
  }
}

export type MessageListener = (message: string) => void

/**
 * The part of Redis the adapters use, so they never see the client library. Commands fail fast
 * while disconnected (no offline queue) and each has a timeout; channels are reference counted and
 * resubscribed after every reconnect.
 */
export interface RedisPort {
  /** Whether the command connection is ready. */
  readonly connected: boolean
  /** `prefix` + the parts joined by `:`, for every key and channel the adapters name. */
  key(...parts: string[]): string
  command<T = unknown>(args: string[], timeoutMs?: number): Promise<T>
  eval<T = unknown>(script: LuaScript, keys: string[], args: (string | number)[], timeoutMs?: number): Promise<T>
  publish(channel: string, message: string): Promise<void>
  /** Resolves once the channel is subscribed (or, while disconnected, at once: the reconnect subscribes it). */
  subscribe(channel: string, listener: MessageListener): Promise<void>
  unsubscribe(channel: string, listener: MessageListener): Promise<void>
  /** Called with `true` on every (re)connect and `false` on every loss. Returns the detach function. */
  onConnectionChange(listener: (connected: boolean) => void): () => void
  /** Listeners on subscribed channels, for leak checks. */
  readonly channelListeners: number
  close(): Promise<void>
}

export interface RedisClientOptions {
  url: string
  keyPrefix: string
  connectTimeoutMs: number
  commandTimeoutMs: number
  reconnectMaxDelayMs: number
  maxQueuedCommands: number
  logger?: Logger
}

/** The command's own deadline: node-redis times a command out only until it is written, not while its reply is awaited. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis did not answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timedOut]).finally(() => clearTimeout(timer))
}

/** A node-redis command connection plus a subscriber connection behind `RedisPort`. Does not wait for Redis. */
export function createRedisPort(options: RedisClientOptions): RedisPort {
  const { logger } = options
  const client = createClient({
    url: options.url,
    RESP: 2,
    disableOfflineQueue: true,
    commandsQueueMaxLength: options.maxQueuedCommands,
    commandOptions: { timeout: options.commandTimeoutMs },
    socket: {
      connectTimeout: options.connectTimeoutMs,
      // 50 ms, doubling, capped: a restarted Redis is found again within the cap.
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 10), options.reconnectMaxDelayMs),
    },
  })
  const subscriber = client.duplicate()
  const channels = new Map<string, { listeners: Set<MessageListener>; deliver: (message: string) => void }>()
  const changeListeners = new Set<(connected: boolean) => void>()
  let closed = false
  let wasConnected = false
  let lastError = ''

  const report = () => {
    const now = client.isReady && subscriber.isReady
    if (now === wasConnected) return
    wasConnected = now
    if (now) logger?.info('redis connected')
    else if (!closed) logger?.warn({ err: lastError || undefined }, 'redis disconnected; reconnecting')
    for (const listener of changeListeners) listener(now)
  }
  for (const each of [client, subscriber]) {
    each.on('error', (error: Error) => {
      lastError = error.message
    })
    each.on('ready', report)
    each.on('end', report)
    each.on('reconnecting', report)
  }
  // Restores every channel after a reconnect ourselves (subscribing twice is a no-op). node-redis does
  // it too (test/redis/bun.test.ts passes on Bun without this), but pub/sub that silently stopped after
  // a reconnect was reported on Bun (oven-sh/bun#21622), and a lost channel would mean a deaf instance.
  subscriber.on('ready', () => {
    for (const [channel, entry] of channels) subscriber.subscribe(channel, entry.deliver).catch(() => {})
  })
  client.connect().catch((error: Error) => (lastError = error.message))
  subscriber.connect().catch((error: Error) => (lastError = error.message))

  async function evalScript<T>(script: LuaScript, keys: string[], args: (string | number)[], timeoutMs?: number): Promise<T> {
    const rest = [String(keys.length), ...keys, ...args.map(String)]
    const timeout = timeoutMs ?? options.commandTimeoutMs
    const sha = await script.sha1()
    try {
      return (await within(client.sendCommand(['EVALSHA', sha, ...rest], { timeout }), timeout)) as T
    } catch (error) {
      const message = error instanceof Error ? error.message : ''
      if (!/NOSCRIPT|unknown command|NOPERM/i.test(message)) throw error
      return (await within(client.sendCommand(['EVAL', script.source, ...rest], { timeout }), timeout)) as T
    }
  }

  return {
    get connected() {
      return client.isReady && subscriber.isReady
    },
    key: (...parts) => options.keyPrefix + parts.join(':'),
    command: async <T>(args: string[], timeoutMs?: number) => {
      const timeout = timeoutMs ?? options.commandTimeoutMs
      return (await within(client.sendCommand(args, { timeout }), timeout)) as T
    },
    eval: evalScript,
    async publish(channel, message) {
      await within(client.sendCommand(['PUBLISH', channel, message]), options.commandTimeoutMs)
    },
    async subscribe(channel, listener) {
      let entry = channels.get(channel)
      if (entry) {
        entry.listeners.add(listener)
        return
      }
      const listeners = new Set([listener])
      entry = {
        listeners,
        deliver: (message) => {
          for (const each of listeners) each(message)
        },
      }
      channels.set(channel, entry)
      if (subscriber.isReady) await subscriber.subscribe(channel, entry.deliver).catch(() => {})
    },
    async unsubscribe(channel, listener) {
      const entry = channels.get(channel)
      if (!entry?.listeners.delete(listener) || entry.listeners.size > 0) return
      channels.delete(channel)
      if (subscriber.isReady) await subscriber.unsubscribe(channel, entry.deliver).catch(() => {})
    },
    onConnectionChange(listener) {
      changeListeners.add(listener)
      return () => void changeListeners.delete(listener)
    },
    get channelListeners() {
      let total = 0
      for (const entry of channels.values()) total += entry.listeners.size
      return total
    },
    async close() {
      closed = true
      channels.clear()
      changeListeners.clear()
      // `destroy`, not `close`: pending commands fail now instead of waiting on a Redis that may be gone.
      for (const each of [subscriber, client]) if (each.isOpen) each.destroy()
    },
  }
}
