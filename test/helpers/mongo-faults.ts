import { MongoClient, type MongoClientOptions } from 'mongodb'

/** Nothing listens on port 1: while "down", every call is the real driver's, and fails as it fails there. */
export const NOWHERE = 'mongodb://127.0.0.1:1/?directConnection=true'

export interface Call {
  /** `connect`, `command`, or `<collection>.<method>` (`messages.insertOne`). */
  target: string
  args: unknown[]
}

type Answer = (args: unknown[]) => unknown

const CURSOR_METHODS = new Set(['find', 'listIndexes'])
const CALL_METHODS = new Set(['insertOne', 'findOne', 'findOneAndUpdate', 'updateOne', 'deleteOne', 'deleteMany', 'countDocuments', 'createIndexes', 'dropIndex'])

/**
 * A thin fault-injecting wrapper around the driver's real `MongoClient`, for fault tests without a
 * database. While `up` is false, every call goes to the real client, aimed at an address where nothing
 * listens, so it fails exactly as driver 7 fails there (server selection errors, then
 * `MongoTopologyClosedError` after a failed connect). While `up`, and once the adapter has called
 * `connect()` since, calls are answered here: by a queued `fail`/`answer` for that target, else as an
 * empty database would (and `createIndexes`/`dropIndex`/`listIndexes` keep track of the index definitions).
 * Faults are the driver's own error classes with real codes, thrown by the test.
 */
export class FaultyMongo {
  /** Whether the database is reachable. */
  up = false
  readonly calls: Call[] = []
  readonly real: MongoClient
  readonly client: MongoClient
  #connected = false
  readonly #queued = new Map<string, Answer[]>()
  readonly #indexes = new Map<string, Set<string>>()
  readonly #created = new Map<string, object>()

  constructor(options: MongoClientOptions) {
    this.real = new MongoClient(NOWHERE, options)
    this.client = this.#wrapClient()
  }

  /** The next call to `target` throws `error` (queued in order). */
  fail(target: string, error: Error): this {
    return this.answer(target, () => {
      throw error
    })
  }

  /** The next call to `target` is answered by `answer` (queued in order). */
  answer(target: string, answer: Answer): this {
    const queue = this.#queued.get(target) ?? []
    queue.push(answer)
    this.#queued.set(target, queue)
    return this
  }

  /** The database came back empty (a restore, a new primary): every index is gone. */
  dropIndexes(): void {
    this.#indexes.clear()
  }

  indexNames(collection: string): string[] {
    return [...(this.#indexes.get(collection) ?? [])]
  }

  count(target: string): number {
    return this.calls.filter((call) => call.target === target).length
  }

  #call(target: string, args: unknown[], real: () => Promise<unknown>): Promise<unknown> {
    this.calls.push({ target, args })
    if (!this.up || !this.#connected) return real()
    const queued = this.#queued.get(target)?.shift()
    return Promise.resolve().then(() => (queued ?? ((a: unknown[]) => this.#empty(target, a)))(args))
  }

  /** What an empty database answers. */
  #empty(target: string, args: unknown[]): unknown {
    const [collection, method] = target.split('.')
    const names = this.#indexes.get(collection) ?? new Set(['_id_'])
    this.#indexes.set(collection, names)
    switch (method) {
      case 'insertOne':
        return { acknowledged: true, insertedId: (args[0] as { _id: unknown })._id }
      case 'findOne':
      case 'findOneAndUpdate':
        return null
      case 'find':
        return []
      case 'updateOne':
        return { acknowledged: true, matchedCount: 1, modifiedCount: 1, upsertedCount: 0, upsertedId: null }
      case 'deleteOne':
      case 'deleteMany':
        return { acknowledged: true, deletedCount: 0 }
      case 'countDocuments':
        return 0
      case 'listIndexes':
        return [...names].map((name) => ({ v: 2, key: { _id: 1 }, ...this.#created.get(`${collection}.${name}`), name }))
      case 'createIndexes':
        for (const index of args[0] as { name: string }[]) {
          names.add(index.name)
          this.#created.set(`${collection}.${index.name}`, { ...index })
        }
        return (args[0] as { name: string }[]).map((index) => index.name)
      case 'dropIndex':
        names.delete(args[0] as string)
        return { ok: 1 }
      default:
        return { ok: 1 }
    }
  }

  #wrapClient(): MongoClient {
    return new Proxy(this.real, {
      get: (real, prop) => {
        if (prop === 'connect') {
          return async () => {
            this.calls.push({ target: 'connect', args: [] })
            if (!this.up) await real.connect()
            const queued = this.#queued.get('connect')?.shift()
            queued?.([])
            this.#connected = true
            return this.client
          }
        }
        if (prop === 'db') return (name: string) => this.#wrapDb(name, real.db(name))
        const value = Reflect.get(real, prop, real)
        return typeof value === 'function' ? value.bind(real) : value
      },
    })
  }

  #wrapDb(dbName: string, db: ReturnType<MongoClient['db']>): ReturnType<MongoClient['db']> {
    return new Proxy(db, {
      get: (real, prop) => {
        if (prop === 'command') return (...args: unknown[]) => this.#call('command', args, () => (real.command as (...a: unknown[]) => Promise<unknown>)(...args))
        if (prop === 'collection') return (name: string) => this.#wrapCollection(name, real.collection(name))
        const value = Reflect.get(real, prop, real)
        return typeof value === 'function' ? value.bind(real) : value
      },
    })
  }

  #wrapCollection(name: string, collection: ReturnType<ReturnType<MongoClient['db']>['collection']>) {
    return new Proxy(collection, {
      get: (real, prop) => {
        const method = String(prop)
        const original = Reflect.get(real, prop, real) as (...args: unknown[]) => unknown
        if (CALL_METHODS.has(method)) {
          return (...args: unknown[]) => this.#call(`${name}.${method}`, args, () => original.apply(real, args) as Promise<unknown>)
        }
        if (CURSOR_METHODS.has(method)) {
          return (...args: unknown[]) => {
            const chain: unknown[] = []
            const cursor = {
              sort: (...a: unknown[]) => (chain.push(['sort', ...a]), cursor),
              limit: (...a: unknown[]) => (chain.push(['limit', ...a]), cursor),
              project: (...a: unknown[]) => (chain.push(['project', ...a]), cursor),
              toArray: () =>
                this.#call(`${name}.${method}`, args, () => {
                  let realCursor = original.apply(real, args) as Record<string, (...a: unknown[]) => unknown>
                  for (const [step, ...a] of chain as [string, ...unknown[]][]) realCursor = realCursor[step](...a) as typeof realCursor
                  return realCursor.toArray() as Promise<unknown>
                }),
            }
            return cursor
          }
        }
        return typeof original === 'function' ? original.bind(real) : original
      },
    })
  }
}
