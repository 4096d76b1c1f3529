import { MongoServerError, type Collection, type Document, type IndexDescription } from 'mongodb'
import type { Logger } from 'pino'
import { StoreUnavailableError } from '../ports.ts'
import { INDEX_CONFLICT_CODES, isUnavailable } from './errors.ts'

export type CollectionName = 'conversations' | 'messages' | 'memory'

/**
 * What one collection must have. A shipped definition is never changed in place: a changed index gets a
 * new name, and the old name goes to `retired`, which the next start drops before creating the new one
 * (a deliberate migration; an index we do not know of is never touched).
 */
export interface IndexSpec {
  collection: Collection<Document>
  indexes: IndexDescription[]
  retired: string[]
}

export const INDEX_SPECS: Record<CollectionName, Omit<IndexSpec, 'collection'>> = {
  conversations: { indexes: [{ key: { user_id: 1, updated_at: -1, _id: -1 }, name: 'user_updated' }], retired: [] },
  // Scoped by user: a conversation id another user once used (and left messages under) never collides.
  messages: { indexes: [{ key: { user_id: 1, conversation_id: 1, seq: 1 }, name: 'user_conversation_seq', unique: true }], retired: ['conversation_seq'] },
  memory: {
    indexes: [
      { key: { user_id: 1, created_at: -1, _id: -1 }, name: 'user_created' },
      { key: { user_id: 1, tags: 1 }, name: 'user_tags' },
      // Prefixed by user_id (every search has the equality), no stemming or stopwords: `../text.ts`
      // splits exactly as this index does and has already removed the stopwords from the query.
      { key: { user_id: 1, content: 'text' }, name: 'user_content_text', default_language: 'none' },
    ],
    retired: [],
  },
}

type IndexState = { status: 'pending' } | { status: 'ready' | 'conflict' | 'failed'; at: number; problem?: string }

export interface IndexKeeperOptions {
  specs: Record<CollectionName, IndexSpec>
  logger: Pick<Logger, 'info' | 'warn' | 'error'>
  /** How often indexes are verified again while all is well, and a conflict retried. Default 60 000 ms. */
  recheckMs?: number
}

/**
 * Keeps each collection's indexes in place, one collection at a time: a conflict on one (code 85/86)
 * blocks only the stores that use it, is named in the log and the health check, and is tried again
 * after `recheckMs` (not on every request). Verification is repeated after a reconnect or any
 * unavailable error (the database may have come back empty) and every `recheckMs`.
 */
export class IndexKeeper {
  readonly #specs: Record<CollectionName, IndexSpec>
  readonly #logger: IndexKeeperOptions['logger']
  readonly #recheckMs: number
  readonly #state = new Map<CollectionName, IndexState>()
  #suspect = true
  #running: Promise<void> | undefined

  constructor(options: IndexKeeperOptions) {
    this.#specs = options.specs
    this.#logger = options.logger
    this.#recheckMs = options.recheckMs ?? 60_000
    for (const name of Object.keys(this.#specs) as CollectionName[]) this.#state.set(name, { status: 'pending' })
  }

  /** The database may have lost its indexes (reconnect, restart): verify them before the next operation. */
  suspect(): void {
    this.#suspect = true
  }

  /** What is wrong, one line per collection (empty when all indexes are in place). */
  get problems(): string[] {
    return [...this.#state.values()].flatMap((state) => (state.status === 'conflict' || state.status === 'failed' ? [state.problem!] : []))
  }

  /** Resolves once `names`' indexes are in place; throws `StoreUnavailableError` naming a conflict. */
  async require(names: readonly CollectionName[]): Promise<void> {
    const now = Date.now()
    const states = names.map((name) => this.#state.get(name)!)
    const blocked = states.some((state) => state.status === 'pending' || (state.status !== 'ready' && now - state.at >= this.#recheckMs))
    if (this.#suspect || blocked) await this.verify()
    else if (states.some((state) => state.status === 'ready' && now - state.at >= this.#recheckMs)) this.verify().catch(() => {})
    for (const name of names) {
      const state = this.#state.get(name)!
      if (state.status === 'conflict' || state.status === 'failed') throw new StoreUnavailableError(state.problem)
      if (state.status === 'pending') throw new StoreUnavailableError(`MongoDB indexes on ${name} are not in place yet`)
    }
  }

  /** Verifies every collection (one run at a time; concurrent callers share it). Rejects with an unavailable error. */
  verify(): Promise<void> {
    this.#running ??= this.#verifyAll().finally(() => {
      this.#running = undefined
    })
    return this.#running
  }

  async #verifyAll(): Promise<void> {
    this.#suspect = false
    const names = Object.keys(this.#specs) as CollectionName[]
    const results = await Promise.allSettled(names.map((name) => this.#verifyOne(name)))
    const unreachable = results.find((result) => result.status === 'rejected')
    if (unreachable) {
      this.#suspect = true
      throw (unreachable as PromiseRejectedResult).reason
    }
  }

  async #verifyOne(name: CollectionName): Promise<void> {
    const spec = this.#specs[name]
    const before = this.#state.get(name)!
    try {
      const existing = await listIndexes(spec.collection)
      for (const retired of spec.retired.filter((index) => existing.has(index))) {
        this.#logger.warn({ collection: name, index: retired }, 'MongoDB: dropping a retired index definition before creating its replacement')
        await spec.collection.dropIndex(retired)
      }
      // Servers that do not report 85/86 (some compatible ones) keep a clashing index silently: look.
      const clash = spec.indexes.find((index) => existing.has(index.name!) && !sameDefinition(existing.get(index.name!)!, index))
      if (clash) {
        const found = existing.get(clash.name!)!
        return this.#failed(name, 'conflict', `index conflict on ${name}: ${clash.name} exists as ${describe(found)}, expected ${describe(clash)}`)
      }
      const missing = spec.indexes.map((index) => index.name!).filter((index) => !existing.has(index))
      // A no-op for indexes that exist with the same name and options; code 85/86 when one clashes.
      await spec.collection.createIndexes(spec.indexes)
      if (missing.length > 0 && before.status !== 'pending') this.#logger.warn({ collection: name, indexes: missing }, 'MongoDB: missing indexes re-created')
      if (before.status === 'conflict' || before.status === 'failed') this.#logger.info({ collection: name }, 'MongoDB: indexes in place again')
      this.#state.set(name, { status: 'ready', at: Date.now() })
    } catch (error) {
      if (isUnavailable(error)) {
        if (before.status !== 'ready') this.#state.set(name, { status: 'pending' })
        throw error
      }
      const names = spec.indexes.map((index) => index.name).join(', ')
      const conflict = error instanceof MongoServerError && INDEX_CONFLICT_CODES.has(Number(error.code))
      const problem = conflict
        ? `index conflict on ${name} (code ${error.code}): an existing index clashes with ${names}: ${error.message}`
        : `index creation failed on ${name} (${names}): ${error instanceof Error ? error.message : String(error)}`
      this.#failed(name, conflict ? 'conflict' : 'failed', problem, error)
    }
  }

  /** Logged once per distinct problem, not on every recheck. */
  #failed(name: CollectionName, status: 'conflict' | 'failed', problem: string, error?: unknown): void {
    const before = this.#state.get(name)!
    if (before.status === 'ready' || before.status === 'pending' || before.problem !== problem) {
      this.#logger.error({ collection: name, ...(error === undefined ? {} : { err: error }) }, `MongoDB: ${problem}`)
    }
    this.#state.set(name, { status, at: Date.now(), problem })
  }
}

/** The collection's indexes by name; NamespaceNotFound (26): a collection that does not exist yet has none. */
async function listIndexes(collection: Collection<Document>): Promise<Map<string, Document>> {
  try {
    const indexes = await collection.listIndexes().toArray()
    return new Map(indexes.map((index) => [String(index.name), index]))
  } catch (error) {
    if (error instanceof MongoServerError && error.code === 26) return new Map()
    throw error
  }
}

/**
 * Whether an existing index is ours as shipped: the same key (in order) and uniqueness. A text index
 * is listed under its internal key (`_fts`/`_ftsx`), so only its uniqueness is compared.
 */
function sameDefinition(found: Document, wanted: IndexDescription): boolean {
  if (Boolean(found.unique) !== Boolean(wanted.unique)) return false
  const key = wanted.key as Record<string, unknown>
  if (Object.values(key).includes('text')) return true
  return JSON.stringify(found.key) === JSON.stringify(key)
}

const describe = (index: Document | IndexDescription) => `${JSON.stringify(index.key)}${index.unique ? ' unique' : ''}`
