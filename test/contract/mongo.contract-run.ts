import assert from 'node:assert/strict'
import { it } from 'node:test'
import { MongoClient } from 'mongodb'
import { memoryLogger } from '../helpers/app.ts'
import { createMongoStores } from '../../src/storage/mongo/index.ts'
import { describeStoreContract } from './stores.contract.ts'

/**
 * The store contract against a real MongoDB 4.4+ (`npm run test:mongo`). Named `.contract-run.ts` so
 * `npm test`'s `test/**\/*.test.ts` glob does not pick it up. Without `MONGODB_URI` it FAILS, never skips.
 * Each run uses its own database (dropped afterwards), so it is safe against a shared server.
 */
const uri = process.env.MONGODB_URI

if (!uri) {
  it('needs MONGODB_URI', () => {
    assert.fail('MONGODB_URI is not set: run e.g. `MONGODB_URI=mongodb://127.0.0.1:27017 npm run test:mongo` against a MongoDB 4.4+ server')
  })
} else {
  describeStoreContract('mongodb', async ({ clock }) => {
    const dbName = `${process.env.MONGODB_DB ?? 'assistant'}_contract_${Date.now()}`
    const stores = await createMongoStores({ uri, dbName, serverSelectionTimeoutMS: 5000, clock, logger: memoryLogger().logger })
    // The adapter starts even when the server is down; the contract must not silently run against nothing.
    try {
      await stores.health!.check(new AbortController().signal)
    } catch (error) {
      await stores.close()
      throw new Error(`MongoDB at ${uri} does not answer ping`, { cause: error })
    }
    return {
      stores,
      cleanup: async () => {
        const admin = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 })
        try {
          await admin.db(dbName).dropDatabase()
        } finally {
          await admin.close()
          await stores.close()
        }
      },
    }
  })
}
