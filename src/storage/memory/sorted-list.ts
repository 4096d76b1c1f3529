/**
 * A list kept in a total order, with binary-search insert, remove and seek, so a cursor page costs
 * O(log n + page) instead of a sort per request. The array is held back to front (the first item in
 * list order is last in the array): our lists are newest first, so the usual insert — a new item, or a
 * conversation just touched — is a push instead of shifting every element.
 */
export class SortedList<T extends K, K = T> {
  /** Ascending by the reverse of the list order. */
  readonly #items: T[] = []
  readonly #compare: (a: K, b: K) => number

  /** `compare` is the list order and must be total (no two distinct items equal), e.g. a timestamp with an id tie-break. */
  constructor(compare: (a: K, b: K) => number) {
    this.#compare = compare
  }

  get size(): number {
    return this.#items.length
  }

  /** The first array index whose item is not after `probe` in list order (so from it on: `probe` and earlier). */
  #lowerBound(probe: K): number {
    let low = 0
    let high = this.#items.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (this.#compare(this.#items[middle], probe) > 0) low = middle + 1
      else high = middle
    }
    return low
  }

  insert(item: T): void {
    const index = this.#lowerBound(item)
    if (index === this.#items.length) this.#items.push(item)
    else this.#items.splice(index, 0, item)
  }

  /** Removes the item comparing equal to `item` (the same key); false when there is none. */
  remove(item: K): boolean {
    const index = this.#lowerBound(item)
    if (index >= this.#items.length || this.#compare(this.#items[index], item) !== 0) return false
    this.#items.splice(index, 1)
    return true
  }

  /** Up to `limit` items strictly after `after` in list order (from the start when absent). */
  page(limit: number, after?: K): T[] {
    const end = after === undefined ? this.#items.length : this.#lowerBound(after)
    return this.#items.slice(Math.max(0, end - limit), end).reverse()
  }
}
