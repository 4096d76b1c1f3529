import { createMemoryStores } from '../../src/storage/memory/index.ts'
import { describeStoreContract } from './stores.contract.ts'

describeStoreContract('memory', async ({ clock }) => ({ stores: createMemoryStores({ clock }), cleanup: async () => {} }))
