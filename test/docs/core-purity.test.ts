import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    return entry.isDirectory() ? sources(path) : entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : []
  })
}

describe('the runtime-neutral core', () => {
  it('uses Web APIs only: no node:* imports, process.env or Buffer outside src/runtimes and the MongoDB adapter', () => {
    const core = sources(join(ROOT, 'src'))
      .map((path) => relative(ROOT, path))
      .filter((path) => !path.startsWith('src/runtimes/') && !path.startsWith('src/storage/mongo/'))
    assert.ok(core.length > 50, 'the scan found the core')
    const offenders = core.filter((path) => /from ['"]node:|\bprocess\.env\b|\bBuffer\./.test(readFileSync(join(ROOT, path), 'utf8')))
    assert.deepEqual(offenders, [])
  })
})
