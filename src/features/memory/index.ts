export { memoryJson, memoryRoutes, type MemoryRoutesOptions } from './memory.routes.ts'
export { MEMORY_LIMITS } from './schema.ts'
