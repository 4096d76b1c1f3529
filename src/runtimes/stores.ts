import type { Logger } from 'pino'
import type { Config } from '../config/index.ts'
import type { WallClock } from '../kernel/clock.ts'
import { createMemoryStores } from '../storage/memory/index.ts'
import type { Stores } from '../storage/ports.ts'

/**
 * The stores an entrypoint hands to `buildDeps`: MongoDB when `mongodb.uri` (`MONGODB_URI`) is set,
 * else the in-memory default. The MongoDB adapter is imported dynamically, so entrypoints and bundles
 * that never set a URI (Workers) never load the driver. The caller owns `close()`.
 */
export async function openStores(config: Config, deps: { logger: Logger; clock: WallClock }): Promise<Stores> {
  const { mongodb } = config
  if (!mongodb.uri) return createMemoryStores({ clock: deps.clock })
  const { createMongoStores } = await import('../storage/mongo/index.ts')
  return createMongoStores({
    uri: mongodb.uri,
    dbName: mongodb.db,
    maxPoolSize: mongodb.max_pool_size,
    serverSelectionTimeoutMS: mongodb.server_selection_timeout,
    connectTimeoutMS: mongodb.connect_timeout,
    socketTimeoutMS: mongodb.socket_timeout,
    operationTimeoutMS: mongodb.operation_timeout,
    clock: deps.clock,
    logger: deps.logger,
  })
}
