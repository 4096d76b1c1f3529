import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { announce } from '../../src/runtimes/startup.ts'
import { createMemoryStores } from '../../src/storage/memory/index.ts'
import { testApp } from '../helpers/app.ts'

describe('start-up storage notice', () => {
  it('warns that in-memory data is not persisted and names MONGODB_URI', async () => {
    const { deps, lines } = await testApp()
    await announce(deps)
    const warning = lines.find((line) => line.level === 40 && /MONGODB_URI/.test(String(line.msg)))
    assert.ok(warning, JSON.stringify(lines))
    assert.match(String(warning.msg), /lost on restart/i)
  })

  it('says nothing about storage when the stores persist', async () => {
    const stores = { ...createMemoryStores({ clock: { now: () => 0 } }), persistent: true }
    const { deps, lines } = await testApp({ deps: { stores } })
    await announce(deps)
    assert.ok(!lines.some((line) => /MONGODB_URI/.test(String(line.msg))))
  })
})

describe('storage boundaries', () => {
  it('keeps the mongodb driver out of the runtime-neutral core', async () => {
    const offenders: string[] = []
    async function walk(dir: string): Promise<void> {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name)
        if (entry.isDirectory()) {
          if (path !== join('src', 'runtimes') && path !== join('src', 'storage', 'mongo')) await walk(path)
        } else if (path.endsWith('.ts') && /from ['"]mongodb['"]|import\(['"][^'"]*mongo/.test(await readFile(path, 'utf8'))) {
          offenders.push(path)
        }
      }
    }
    await walk('src')
    assert.deepEqual(offenders, [])
  })
})
