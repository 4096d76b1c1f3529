import { z } from 'zod'
import type { MemoryItem, MemoryStore } from '../../storage/ports.ts'
import type { Tool } from './registry.ts'

const tag = z.string().min(1).max(64)

const memorySearchSchema = z.strictObject({
  query: z.string().trim().min(1).max(500).describe('Words to look for in the saved notes'),
  limit: z.number().int().min(1).max(20).default(5).describe('How many notes to return, 1-20; default 5'),
  tags: z.array(tag).max(10).optional().describe('Only notes carrying every one of these tags'),
})

const memoryStoreSchema = z.strictObject({
  content: z.string().trim().min(1).max(10_000).describe('The fact or note to remember'),
  tags: z.array(tag).max(20).optional().describe('Labels to find the note by later'),
})

function view(item: MemoryItem) {
  return { id: item.id, content: item.content, tags: item.tags, created_at: new Date(item.createdAt).toISOString() }
}

/** Searches the caller's own saved notes (never another user's: the store scopes by `ctx.userId`). */
export function memorySearchTool(memory: MemoryStore): Tool<typeof memorySearchSchema> {
  return {
    name: 'memory_search',
    description: "Searches the user's saved notes and facts (their long-term memory) for the given words.",
    schema: memorySearchSchema,
    async handler({ query, limit, tags }, ctx) {
      const found = await memory.search(ctx.userId, { query, limit, tags })
      return { items: found.map((item) => ({ ...view(item), score: item.score })) }
    },
  }
}

/** Saves a note in the caller's own memory. */
export function memoryStoreTool(memory: MemoryStore): Tool<typeof memoryStoreSchema> {
  return {
    name: 'memory_store',
    description: "Saves a note or fact to the user's long-term memory so it can be found later with memory_search.",
    schema: memoryStoreSchema,
    async handler({ content, tags }, ctx) {
      return view(await memory.store(ctx.userId, { content, tags }))
    },
  }
}
