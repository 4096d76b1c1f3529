import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createToolRegistry, type WorkspaceFs } from '../../src/features/tools/index.ts'
import { HttpProblem } from '../../src/kernel/problem.ts'
import { nodeWorkspaceFs } from '../../src/runtimes/workspace-fs.ts'
import type { MemoryStore } from '../../src/storage/ports.ts'

const memory = { count: async () => 0 } as unknown as MemoryStore
const config = { timeout: 5_000, max_rounds: 4, max_file_bytes: 1_024, max_search_results: 50 }

let dir: string
let root: string

/**
 *   outside/data/secret.txt   OUTSIDE
 *   root/data/secret.txt      inside
 * A second process swaps root/data for a symlink to ../outside/data and back, as fast as it can.
 */
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'workspace-races-'))
  root = join(dir, 'root')
  await mkdir(join(dir, 'outside', 'data'), { recursive: true })
  await writeFile(join(dir, 'outside', 'data', 'secret.txt'), 'OUTSIDE\n')
  await mkdir(join(root, 'data'), { recursive: true })
  await writeFile(join(root, 'data', 'secret.txt'), 'inside\n')
})

after(async () => {
  await rm(dir, { recursive: true, force: true })
})

const SWAPPER = `
const fs = require('node:fs')
const [data, parked, target] = process.argv.slice(1)
// Bounded, so an orphan (its test killed) stops by itself.
const stopAt = Date.now() + 60_000
while (Date.now() < stopAt) {
  try { fs.renameSync(data, parked); fs.symlinkSync(target, data); fs.unlinkSync(data); fs.renameSync(parked, data) } catch {}
}`

describe('workspace tools under a directory-swap race', () => {
  it('never return content from outside the root over 3,000 reads and searches', async () => {
    const registry = createToolRegistry({ memory, workspaceFs: nodeWorkspaceFs(), config: { ...config, workspace_root: root } })
    const ctx = { userId: 'alice', signal: new AbortController().signal }
    const swapper = spawn(process.execPath, ['-e', SWAPPER, join(root, 'data'), join(root, 'data.parked'), join(dir, 'outside', 'data')], { stdio: 'ignore' })
    const outcomes = new Map<string, number>()
    let escapes = 0
    try {
      for (let i = 0; i < 3_000; i++) {
        const [name, args] = i % 3 === 2 ? ['search_files', { query: 'OUTSIDE' }] : ['read_file', { path: 'data/secret.txt' }]
        try {
          const { result } = await registry.execute(name, args, ctx)
          const found = name === 'read_file' ? (result as { content: string }).content : JSON.stringify((result as { matches: unknown[] }).matches)
          if (found.includes('OUTSIDE')) escapes++
          outcomes.set('ok', (outcomes.get('ok') ?? 0) + 1)
        } catch (error) {
          assert.ok(error instanceof HttpProblem && error.status < 500, `${name}: ${error}`)
          outcomes.set(String(error.status), (outcomes.get(String(error.status)) ?? 0) + 1)
        }
      }
    } finally {
      swapper.kill('SIGKILL')
    }
    assert.equal(escapes, 0, `${escapes} escapes; outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`)
    assert.ok((outcomes.get('ok') ?? 0) > 0, 'some reads happened while the directory was in place')
  })
})

describe('workspace tools when a file vanishes mid-call', () => {
  it('answer 404, not 500, when the file is removed between the check and the read', async () => {
    const real = nodeWorkspaceFs()
    const path = join(root, 'vanishing.txt')
    // A fault-injecting wrapper around the real filesystem: the file is removed right after the path check.
    const vanishing: WorkspaceFs = {
      ...real,
      async realpath(target) {
        const resolved = await real.realpath(target)
        if (resolved.endsWith('vanishing.txt') || resolved.endsWith('gone')) await rm(resolved, { recursive: true, force: true })
        return resolved
      },
    }
    const registry = createToolRegistry({ memory, workspaceFs: vanishing, config: { ...config, workspace_root: root } })
    const ctx = { userId: 'alice', signal: new AbortController().signal }
    for (const [name, args, make] of [
      ['read_file', { path: 'vanishing.txt' }, () => writeFile(path, 'soon gone')],
      ['list_files', { path: 'gone' }, () => mkdir(join(root, 'gone'))],
      ['search_files', { query: 'x', path: 'gone' }, () => mkdir(join(root, 'gone'))],
    ] as const) {
      await make()
      await assert.rejects(registry.execute(name, args, ctx), (error: unknown) => error instanceof HttpProblem && error.status === 404, name)
    }
    await unlink(path).catch(() => {})
  })
})
