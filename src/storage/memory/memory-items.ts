import type { WallClock } from '../../kernel/clock.ts'
import { decodeMemoryCursor, encodeMemoryCursor } from '../cursor.ts'
import type { MemoryItem, MemorySearch, MemoryStore, NewMemoryItem, Page, PageRequest } from '../ports.ts'
import { queryTerms, tokenize } from '../text.ts'
import { idempotentId } from '../idempotency.ts'
import { cloneData } from './clone.ts'
import { SortedList } from './sorted-list.ts'

/** Okapi BM25 parameters (the usual defaults, as in Lucene). */
const K1 = 1.2
const B = 0.75

interface Indexed {
  item: MemoryItem
  tags: Set<string>
  /** Number of terms, for BM25 length normalisation. */
  length: number
  /** term → frequency in this item. */
  terms: Map<string, number>
}

/** One user's items and their inverted index; no structure is shared between users. */
interface UserIndex {
  items: Map<string, Indexed>
  /** term → (item → term frequency). */
  postings: Map<string, Map<Indexed, number>>
  totalLength: number
  byCreated: SortedList<MemoryItem, MemoryKey>
}

type MemoryKey = Pick<MemoryItem, 'createdAt' | 'id'>

/** Newest first, ties by id descending (the MongoDB index order). */
function compareItems(a: MemoryKey, b: MemoryKey): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
}

const copy = (item: MemoryItem): MemoryItem => ({ ...item, tags: [...item.tags], metadata: cloneData(item.metadata) })

/**
 * Memory items ranked with BM25 over an inverted index kept per user: a search touches only the
 * postings of its query terms, so its cost does not grow with items that share none of them.
 * Terms come from `tokenize()` in `../text.ts`.
 */
export class MemoryItemStore implements MemoryStore {
  readonly #clock: WallClock
  readonly #users = new Map<string, UserIndex>()

  constructor(options: { clock: WallClock }) {
    this.#clock = options.clock
  }

  #user(userId: string): UserIndex {
    let index = this.#users.get(userId)
    if (!index) {
      index = { items: new Map(), postings: new Map(), totalLength: 0, byCreated: new SortedList<MemoryItem, MemoryKey>(compareItems) }
      this.#users.set(userId, index)
    }
    return index
  }

  async store(userId: string, input: NewMemoryItem): Promise<MemoryItem> {
    const id = input.idempotencyKey === undefined ? crypto.randomUUID() : await idempotentId(userId, input.idempotencyKey)
    const stored = this.#users.get(userId)?.items.get(id)
    if (stored) return copy(stored.item)
    const item: MemoryItem = {
      id,
      userId,
      content: input.content,
      tags: [...new Set(input.tags ?? [])],
      metadata: cloneData(input.metadata ?? {}),
      createdAt: this.#clock.now(),
    }
    const words = tokenize(item.content)
    const terms = new Map<string, number>()
    for (const word of words) terms.set(word, (terms.get(word) ?? 0) + 1)

    const index = this.#user(userId)
    const entry: Indexed = { item, tags: new Set(item.tags), length: words.length, terms }
    index.items.set(item.id, entry)
    index.totalLength += words.length
    index.byCreated.insert(item)
    for (const [term, frequency] of terms) {
      let postings = index.postings.get(term)
      if (!postings) {
        postings = new Map()
        index.postings.set(term, postings)
      }
      postings.set(entry, frequency)
    }
    return copy(item)
  }

  async count(userId: string): Promise<number> {
    return this.#users.get(userId)?.items.size ?? 0
  }

  async search(userId: string, search: MemorySearch): Promise<(MemoryItem & { score: number })[]> {
    const index = this.#users.get(userId)
    // Most users store no memory: answer before tokenizing the query.
    if (!index || index.items.size === 0) return []
    const terms = queryTerms(search.query)
    if (terms.length === 0) return []
    const count = index.items.size
    const averageLength = index.totalLength / count || 1
    const wanted = search.tags ?? []
    const scores = new Map<Indexed, number>()
    const rejected = new Set<Indexed>()
    const accepts = (entry: Indexed) => wanted.every((tag) => entry.tags.has(tag))

    for (const term of terms) {
      const postings = index.postings.get(term)
      if (!postings) continue
      const idf = Math.log(1 + (count - postings.size + 0.5) / (postings.size + 0.5))
      for (const [entry, frequency] of postings) {
        const previous = scores.get(entry)
        if (previous === undefined && wanted.length > 0) {
          if (rejected.has(entry)) continue
          if (!accepts(entry)) {
            rejected.add(entry)
            continue
          }
        }
        const norm = frequency + K1 * (1 - B + (B * entry.length) / averageLength)
        scores.set(entry, (previous ?? 0) + (idf * frequency * (K1 + 1)) / norm)
      }
    }

    const ranked = [...scores]
    ranked.sort(([a, scoreA], [b, scoreB]) => scoreB - scoreA || compareItems(a.item, b.item))
    return ranked.slice(0, search.limit).map(([entry, score]) => ({ ...copy(entry.item), score }))
  }

  async list(userId: string, page: PageRequest): Promise<Page<MemoryItem>> {
    const after = page.cursor === undefined ? undefined : decodeMemoryCursor(page.cursor)
    const index = this.#users.get(userId)
    if (!index) return { items: [], nextCursor: null }
    const found = index.byCreated.page(page.limit + 1, after)
    const items = found.slice(0, page.limit)
    const last = items[items.length - 1]
    return {
      items: items.map(copy),
      nextCursor: found.length > page.limit ? encodeMemoryCursor({ createdAt: last.createdAt, id: last.id }) : null,
    }
  }

  async delete(userId: string, id: string): Promise<boolean> {
    const index = this.#users.get(userId)
    const entry = index?.items.get(id)
    if (!index || !entry) return false
    index.items.delete(id)
    index.totalLength -= entry.length
    index.byCreated.remove(entry.item)
    for (const term of entry.terms.keys()) {
      const postings = index.postings.get(term)!
      postings.delete(entry)
      if (postings.size === 0) index.postings.delete(term)
    }
    return true
  }
}
