import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { build } from 'esbuild'
import { ROOT } from '../helpers/runtimes.ts'

/** Every input file of a bundle of `entry`, as wrangler builds the Worker (nodejs_compat: node:* external). */
async function bundledInputs(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    conditions: ['workerd', 'worker'],
    alias: { pino: join(ROOT, 'node_modules/pino/pino.js') },
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: ROOT,
  })
  return Object.keys(result.metafile.inputs)
}

const redisParts = (inputs: string[]) => inputs.filter((path) => /(^|\/)node_modules\/(redis|@redis)\/|^src\/redis\//.test(path))

describe('the Workers bundle', () => {
  it('never pulls in the Redis client or our Redis adapters (Workers keep per-isolate state)', async () => {
    const inputs = await bundledInputs('src/runtimes/workers.ts')
    assert.ok(inputs.some((path) => path === 'src/app.ts'), 'the bundle holds the app')
    assert.deepEqual(redisParts(inputs), [])
  })

  it('while the Node entrypoint does reach them (so the check above can fail)', async () => {
    const inputs = await bundledInputs('src/runtimes/node.ts')
    assert.ok(redisParts(inputs).some((path) => path.startsWith('src/redis/')))
    assert.ok(redisParts(inputs).some((path) => path.includes('@redis/client')))
  })
})
