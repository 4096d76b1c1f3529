import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { loadConfig } from '../../src/config/index.ts'
import { ROOT } from '../helpers/runtimes.ts'

describe('config/default.yaml', () => {
  it('says what the built-in defaults say: the shipped settings are the documented ones', async () => {
    const text = readFileSync(join(ROOT, 'config/default.yaml'), 'utf8')
    const fromFile = await loadConfig({ yaml: { text, source: 'config/default.yaml' } })
    const builtIn = await loadConfig({})
    assert.deepEqual(fromFile, builtIn)
  })
})
