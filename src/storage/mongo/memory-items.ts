import type { Collection, Filter } from 'mongodb'
import type { WallClock } from '../../kernel/clock.ts'
import { decodeMemoryCursor, encodeMemoryCursor } from '../cursor.ts'
import type { MemoryItem, MemorySearch, MemoryStore, NewMemoryItem, Page, PageRequest } from '../ports.ts'
import { queryTerms } from '../text.ts'
import { idempotentId } from '../idempotency.ts'
import { toMemoryItem, type MemoryDocument } from './documents.ts'
import { isDuplicateKey } from './errors.ts'
import type { Runner } from './gate.ts'

export interface MongoMemoryStoreOptions {
  memory: Collection<MemoryDocument>
  clock: WallClock
  /** Every operation goes through it (connection, indexes, breaker, error mapping). */
  run: Runner
}

/** Memory items in MongoDB, searched with `$text` and ranked by `textScore`. */
export class MongoMemoryStore implements MemoryStore {
  readonly #memory: Collection<MemoryDocument>
  readonly #clock: WallClock
  readonly #run: Runner

  constructor(options: MongoMemoryStoreOptions) {
    this.#memory = options.memory
    this.#clock = options.clock
    this.#run = options.run
  }

  async store(userId: string, input: NewMemoryItem): Promise<MemoryItem> {
    return this.#run(async ({ signal, sending }) => {
      const key = input.idempotencyKey
      const doc: MemoryDocument = {
        _id: key === undefined ? crypto.randomUUID() : await idempotentId(userId, key),
        user_id: userId,
        content: input.content,
        tags: [...new Set(input.tags ?? [])],
        metadata_json: JSON.stringify(input.metadata ?? {}),
        created_at: new Date(this.#clock.now()),
      }
      sending()
      try {
        await this.#memory.insertOne(doc)
      } catch (error) {
        // Only an idempotent id can be taken: it is this user's repeat of a store whose answer was lost.
        const first = key !== undefined && isDuplicateKey(error) ? await this.#memory.findOne({ _id: doc._id, user_id: userId }, { signal }) : null
        if (first) return toMemoryItem(first)
        throw error
      }
      return toMemoryItem(doc)
    }, { write: true })
  }

  async search(userId: string, search: MemorySearch): Promise<(MemoryItem & { score: number })[]> {
    // Our own tokens (split as the index splits), so a user's quotes and `-word` are never read as phrase or negation syntax.
    const terms = queryTerms(search.query)
    if (terms.length === 0) return []
    return this.#run(async ({ signal }) => {
      const filter: Filter<MemoryDocument> = { user_id: userId, $text: { $search: terms.join(' ') } }
      if (search.tags?.length) filter.tags = { $all: search.tags }
      const docs = await this.#memory
        .find(filter, { projection: { score: { $meta: 'textScore' } }, signal })
        .sort({ score: { $meta: 'textScore' }, created_at: -1, _id: -1 })
        .limit(search.limit)
        .toArray()
      return docs.map((doc) => ({ ...toMemoryItem(doc), score: (doc as MemoryDocument & { score: number }).score }))
    })
  }

  async count(userId: string): Promise<number> {
    return this.#run(({ signal }) => this.#memory.countDocuments({ user_id: userId }, { signal }))
  }

  async list(userId: string, page: PageRequest): Promise<Page<MemoryItem>> {
    const after = page.cursor === undefined ? undefined : decodeMemoryCursor(page.cursor)
    return this.#run(async ({ signal }) => {
      const filter: Filter<MemoryDocument> = { user_id: userId }
      if (after) {
        const at = new Date(after.createdAt)
        filter.$or = [{ created_at: { $lt: at } }, { created_at: at, _id: { $lt: after.id } }]
      }
      const docs = await this.#memory.find(filter, { signal }).sort({ created_at: -1, _id: -1 }).limit(page.limit + 1).toArray()
      const items = docs.slice(0, page.limit).map(toMemoryItem)
      const last = items[items.length - 1]
      return {
        items,
        nextCursor: docs.length > page.limit ? encodeMemoryCursor({ createdAt: last.createdAt, id: last.id }) : null,
      }
    })
  }

  async delete(userId: string, id: string): Promise<boolean> {
    return this.#run(async ({ signal, sending }) => {
      sending()
      return (await this.#memory.deleteOne({ _id: id, user_id: userId })).deletedCount === 1
    }, { write: true })
  }
}
