import { z } from 'zod'
import { metadataSchema, pageQuery, utf8Bytes } from '../conversations/schema.ts'

export const MEMORY_LIMITS = {
  contentBytes: 32 * 1024,
  tags: 32,
  tagChars: 64,
  queryChars: 1000,
  searchMax: 50,
  searchDefault: 10,
}

const tags = z.array(z.string().trim().min(1).max(MEMORY_LIMITS.tagChars)).max(MEMORY_LIMITS.tags)

export const storeInput = z.strictObject({
  content: z
    .string()
    .min(1)
    .refine((text) => text.trim().length > 0, 'must not be blank')
    .refine((text) => utf8Bytes(text) <= MEMORY_LIMITS.contentBytes, `exceeds ${MEMORY_LIMITS.contentBytes} bytes (32 KiB)`),
  tags: tags.optional(),
  metadata: metadataSchema.optional(),
})

export const searchInput = z.strictObject({
  query: z.string().trim().min(1).max(MEMORY_LIMITS.queryChars),
  limit: z.number().int().min(1).max(MEMORY_LIMITS.searchMax).default(MEMORY_LIMITS.searchDefault),
  tags: tags.optional(),
})

export const listQuery = z.object(pageQuery())
