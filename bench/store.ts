/**
 * In-memory store benchmark (not a test): `node_modules/.bin/node bench/store.ts`.
 * 1. conversation appends/s (one conversation, sequential awaits, 10,000 appends after warm-up);
 * 2. memory searches/s over 10,000 items of one user, queries drawn from the corpus vocabulary;
 * 3. search time as the user's items grow 1,000 → 10,000 → 100,000 while the items that share a query
 *    term stay at 100: with the inverted index the time should stay flat, not grow 100×.
 */
import { createMemoryStores } from '../src/storage/memory/index.ts'
import { systemClock } from '../src/kernel/clock.ts'

const clock = systemClock
// mulberry32: a seeded PRNG, so every run stores the same corpus.
let seed = 42
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const VOCABULARY = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}x`)
const words = (count: number, vocabulary = VOCABULARY) => Array.from({ length: count }, () => vocabulary[Math.floor(random() * vocabulary.length)]).join(' ')

async function time(iterations: number, run: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < iterations; i++) await run(i)
  return performance.now() - started
}

async function appends(): Promise<void> {
  const { conversations } = createMemoryStores({ clock })
  const conversation = await conversations.create('u', {})
  await time(2000, () => conversations.appendMessage('u', conversation.id, { role: 'user', content: 'warm-up' }))
  const ms = await time(10_000, (i) => conversations.appendMessage('u', conversation.id, { role: 'user', content: `message ${i}` }))
  console.log(`appends:  ${Math.round(10_000 / (ms / 1000)).toLocaleString('en')} appends/s (10,000 appends, ${ms.toFixed(0)} ms)`)
}

async function searches(): Promise<void> {
  const { memory } = createMemoryStores({ clock })
  for (let i = 0; i < 10_000; i++) await memory.store('u', { content: words(30) })
  const queries = Array.from({ length: 200 }, () => words(3))
  await time(500, (i) => memory.search('u', { query: queries[i % queries.length], limit: 10 }))
  const ms = await time(5000, (i) => memory.search('u', { query: queries[i % queries.length], limit: 10 }))
  console.log(`searches: ${Math.round(5000 / (ms / 1000)).toLocaleString('en')} searches/s over 10,000 items (3-term queries, limit 10)`)
}

async function growth(): Promise<void> {
  const NOISE = VOCABULARY.slice(0, 4000)
  console.log('search time vs items (100 items contain the query terms; the rest share none):')
  let baseline = 0
  for (const total of [1_000, 10_000, 100_000]) {
    const { memory } = createMemoryStores({ clock })
    for (let i = 0; i < total; i++) {
      const relevant = i % (total / 100) === 0
      await memory.store('u', { content: relevant ? `${words(20, NOISE)} needle haystack ${words(8, NOISE)}` : words(30, NOISE) })
    }
    const query = 'needle haystack'
    assertHits(await memory.search('u', { query, limit: 10 }))
    await time(500, () => memory.search('u', { query, limit: 10 }))
    const ms = await time(5000, () => memory.search('u', { query, limit: 10 }))
    const perSearch = (ms / 5000) * 1000
    baseline ||= perSearch
    console.log(`  ${total.toLocaleString('en').padStart(7)} items: ${perSearch.toFixed(1).padStart(6)} µs/search  (${(perSearch / baseline).toFixed(2)}× the 1,000-item time; items grew ${total / 1000}×)`)
  }
}

function assertHits(results: unknown[]): void {
  if (results.length !== 10) throw new Error(`expected 10 hits, got ${results.length}`)
}

await appends()
await searches()
await growth()
