import { MongoClient, type Document, type MongoClientOptions } from 'mongodb'
import type { Logger } from 'pino'
import type { WallClock } from '../../kernel/clock.ts'
import type { Stores } from '../ports.ts'
import { MongoConnection } from './connection.ts'
import { MongoConversationStore } from './conversations.ts'
import type { ConversationDocument, MemoryDocument, MessageDocument } from './documents.ts'
import { Breaker, needsReconnect } from './errors.ts'
import { createGate, withDeadline } from './gate.ts'
import { INDEX_SPECS, IndexKeeper, type CollectionName, type IndexSpec } from './indexes.ts'
import { MongoMemoryStore } from './memory-items.ts'

export interface MongoStoresOptions {
  /** `mongodb://` or `mongodb+srv://` connection string (config `mongodb.uri`, env `MONGODB_URI`). */
  uri: string
  /** Database name (config `mongodb.db`, env `MONGODB_DB`; default in config: `assistant`). */
  dbName: string
  /** Connection pool size per server. Driver default 100; config default 20. */
  maxPoolSize?: number
  /** How long an operation waits for a usable server. Config default 5000 ms. */
  serverSelectionTimeoutMS?: number
  /** TCP/TLS connect budget. Config default 10000 ms. */
  connectTimeoutMS?: number
  /** Idle socket budget for one operation's reply. Config default 30000 ms. */
  socketTimeoutMS?: number
  /**
   * The bound on every store operation, whatever it waits for (server selection, the pool, the reply).
   * Enforced by the adapter with an `AbortSignal` the driver's reads honour, because driver 7 ignores
   * its own `timeoutMS`. Config `mongodb.operation_timeout`, env `MONGODB_OPERATION_TIMEOUT`; default 5000 ms.
   */
  operationTimeoutMS?: number
  /** After MongoDB is found unreachable, refuse operations at once (503) for this long, then let one probe through. Default 1000 ms; 0 turns it off. */
  failFastMs?: number
  /** How often the indexes are verified again (and a conflict retried). Default 60 000 ms. */
  indexRecheckMs?: number
  /** A client built from `mongoClientOptions(options)` to use instead of a new one (tests wrap the real one to inject faults). */
  client?: MongoClient
  clock: WallClock
  logger: Pick<Logger, 'info' | 'warn' | 'error'>
}

/** The driver options the adapter runs with. */
export function mongoClientOptions(options: Omit<MongoStoresOptions, 'clock' | 'logger' | 'uri' | 'dbName'>): MongoClientOptions {
  return {
    maxPoolSize: options.maxPoolSize,
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 5000,
    connectTimeoutMS: options.connectTimeoutMS,
    socketTimeoutMS: options.socketTimeoutMS,
    appName: 'assistant-server',
  }
}

/**
 * The MongoDB adapter: conversations, messages and memory in three collections. Never imported by the
 * runtime-neutral core; `src/runtimes/stores.ts` loads it only when a URI is configured.
 * Start-up waits for one connect attempt; while MongoDB is unreachable (at start or later) the adapter
 * keeps connecting by itself, and every operation fails at once or within `operationTimeoutMS` with
 * `StoreUnavailableError` (503), and the `mongodb` health check fails (so `/ready` is 503).
 */
export async function createMongoStores(options: MongoStoresOptions): Promise<Stores> {
  const client = options.client ?? new MongoClient(options.uri, mongoClientOptions(options))
  const db = client.db(options.dbName)
  const collection = <T extends Document>(name: CollectionName) => db.collection<T>(name)
  const spec = (name: CollectionName): IndexSpec => ({ ...INDEX_SPECS[name], collection: collection(name) })
  const specs = { conversations: spec('conversations'), messages: spec('messages'), memory: spec('memory') }

  const indexes = new IndexKeeper({ specs, logger: options.logger, recheckMs: options.indexRecheckMs })
  const connection = new MongoConnection({ client, logger: options.logger, onConnect: () => indexes.suspect() })
  const breaker = new Breaker(options.failFastMs ?? 1000)
  const timeoutMs = options.operationTimeoutMS ?? 5000
  const gate = createGate({ connection, indexes, breaker, timeoutMs })
  // A server lost and found again may have restarted without its indexes: a failed heartbeat, a cleared
  // pool, or a pooled connection the server closed (a restart between two requests shows only this).
  client.on('serverHeartbeatFailed', () => indexes.suspect())
  client.on('connectionPoolCleared', () => indexes.suspect())
  client.on('connectionClosed', (event) => {
    if (event.reason === 'error') indexes.suspect()
  })

  if (await connection.start()) {
    try {
      await withDeadline(AbortSignal.timeout(timeoutMs), timeoutMs, () => indexes.verify())
      const problems = indexes.problems
      if (problems.length === 0) options.logger.info({ db: options.dbName }, 'MongoDB connected; indexes ready')
    } catch (error) {
      options.logger.warn({ err: error }, 'MongoDB connected but stopped answering while indexes were checked; checking again on the next operation')
    }
  }

  return {
    conversations: new MongoConversationStore({
      conversations: collection<ConversationDocument>('conversations'),
      messages: collection<MessageDocument>('messages'),
      clock: options.clock,
      run: gate.runner(['conversations', 'messages']),
    }),
    memory: new MongoMemoryStore({ memory: collection<MemoryDocument>('memory'), clock: options.clock, run: gate.runner(['memory']) }),
    health: {
      name: 'mongodb',
      timeoutMs: 5000,
      // Always probes (never short-circuited by the breaker); a passing ping lets requests through at once.
      check: async (signal) => {
        if (!connection.connected) throw new Error('MongoDB is not connected; connecting in the background')
        try {
          await db.command({ ping: 1 }, { signal })
        } catch (error) {
          indexes.suspect()
          if (needsReconnect(error)) connection.lost(error)
          throw error
        }
        breaker.reset()
        try {
          await indexes.require(Object.keys(INDEX_SPECS) as CollectionName[])
        } catch (error) {
          const problems = indexes.problems
          throw problems.length > 0 ? new Error(problems.join('; ')) : error
        }
      },
    },
    persistent: true,
    close: async () => {
      await connection.close()
      await client.close()
    },
  }
}
