import { MongoClient } from 'mongodb'
import type { Logger } from 'pino'
import type { WallClock } from '../../kernel/clock.ts'
import type { Stores } from '../ports.ts'
import { MongoConversationStore } from './conversations.ts'
import type { ConversationDocument, MemoryDocument, MessageDocument } from './documents.ts'
import { Breaker, guarded } from './errors.ts'
import { MongoMemoryStore } from './memory-items.ts'

export interface MongoStoresOptions {
  /** `mongodb://` or `mongodb+srv://` connection string (config `mongodb.uri`, env `MONGODB_URI`). */
  uri: string
  /** Database name (config `mongodb.db`, env `MONGODB_DB`; default in config: `assistant`). */
  dbName: string
  /** Connection pool size per server. Driver default 100; config default 20. */
  maxPoolSize?: number
  /** How long an operation waits for a usable server before failing (fail fast). Config default 5000 ms. */
  serverSelectionTimeoutMS?: number
  /** TCP/TLS connect budget. Config default 10000 ms. */
  connectTimeoutMS?: number
  /** Idle socket budget for one operation's reply. Config default 30000 ms. */
  socketTimeoutMS?: number
  /** After MongoDB is found unreachable, refuse operations at once (503) for this long before trying again. Default 1000 ms; 0 turns it off. */
  failFastMs?: number
  clock: WallClock
  logger: Pick<Logger, 'info' | 'warn'>
}

/**
 * The MongoDB adapter: conversations, messages and memory in three collections, indexes created
 * idempotently before the first operation (and tried once at start). Never imported by the
 * runtime-neutral core; `src/runtimes/stores.ts` loads it only when a URI is configured.
 * While MongoDB is unreachable every operation fails within `serverSelectionTimeoutMS` with
 * `StoreUnavailableError`, and the `mongodb` health check (ping, 5 s) reports it.
 */
export async function createMongoStores(options: MongoStoresOptions): Promise<Stores> {
  const client = new MongoClient(options.uri, {
    maxPoolSize: options.maxPoolSize,
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 5000,
    connectTimeoutMS: options.connectTimeoutMS,
    socketTimeoutMS: options.socketTimeoutMS,
    appName: 'assistant-server',
  })
  const db = client.db(options.dbName)
  const conversations = db.collection<ConversationDocument>('conversations')
  const messages = db.collection<MessageDocument>('messages')
  const memory = db.collection<MemoryDocument>('memory')

  async function createIndexes(): Promise<void> {
    // createIndexes is a no-op for an index that already exists with the same name and options.
    await Promise.all([
      conversations.createIndexes([{ key: { user_id: 1, updated_at: -1, _id: -1 }, name: 'user_updated' }]),
      messages.createIndexes([{ key: { conversation_id: 1, seq: 1 }, name: 'conversation_seq', unique: true }]),
      memory.createIndexes([
        { key: { user_id: 1, created_at: -1, _id: -1 }, name: 'user_created' },
        { key: { user_id: 1, tags: 1 }, name: 'user_tags' },
        // Prefixed by user_id (every search has the equality), no stemming or stopwords: terms match
        // the memory adapter's tokenizer, which has already removed the stopwords from the query.
        { key: { user_id: 1, content: 'text' }, name: 'user_content_text', default_language: 'none' },
      ]),
    ])
  }

  const breaker = new Breaker(options.failFastMs ?? 1000)
  let indexes: Promise<void> | undefined
  const ready = (): Promise<void> => {
    indexes ??= createIndexes().catch((error: unknown) => {
      indexes = undefined
      throw error
    })
    return indexes
  }

  try {
    await guarded(ready, breaker)
    options.logger.info({ db: options.dbName }, 'MongoDB connected; indexes ready')
  } catch (error) {
    // Not fatal: the server starts, /ready reports 503 and stored-data routes answer 503 until MongoDB answers.
    options.logger.warn({ err: error }, 'MongoDB is unreachable at start-up; retrying on each request')
  }

  return {
    conversations: new MongoConversationStore({ conversations, messages, clock: options.clock, ready, breaker }),
    memory: new MongoMemoryStore({ memory, clock: options.clock, ready, breaker }),
    health: {
      name: 'mongodb',
      timeoutMs: 5000,
      // Always probes (never short-circuited), and a passing ping lets requests through again at once.
      check: async () => {
        await db.command({ ping: 1 })
        breaker.reset()
      },
    },
    persistent: true,
    close: () => client.close(),
  }
}
