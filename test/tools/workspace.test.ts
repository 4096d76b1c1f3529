import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { HttpProblem } from '../../src/kernel/problem.ts'
import { createBuiltinTools, createToolRegistry, type ToolRegistry } from '../../src/features/tools/index.ts'
import { nodeWorkspaceFs } from '../../src/runtimes/workspace-fs.ts'
import type { MemoryStore } from '../../src/storage/ports.ts'

const memory: MemoryStore = {
  store: async () => assert.fail('not used'),
  search: async () => [],
  list: async () => ({ items: [], nextCursor: null }),
  delete: async () => false,
  count: async () => 0,
}

let dir: string
let root: string

/**
 *   outside/secret.txt          TOP SECRET
 *   root/README.md, src/a.ts, src/b.ts, big.txt (over the limit), binary.bin (not UTF-8)
 *   root/node_modules/pkg/index.js (skipped by walks)
 *   root/link-in.txt  -> README.md        (inside: allowed)
 *   root/link-out.txt -> ../outside/secret.txt
 *   root/link-dir     -> ../outside
 */
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'workspace-tools-'))
  root = join(dir, 'root')
  await mkdir(join(dir, 'outside'))
  await writeFile(join(dir, 'outside', 'secret.txt'), 'TOP SECRET needle\n')
  await mkdir(join(root, 'src'), { recursive: true })
  await mkdir(join(root, 'node_modules', 'pkg'), { recursive: true })
  await writeFile(join(root, 'README.md'), 'hello world\nfind me here\n')
  await writeFile(join(root, 'src', 'a.ts'), 'const needle = 1\n')
  await writeFile(join(root, 'src', 'b.ts'), 'needle needle\nno match\nNEEDLE upper\n')
  await writeFile(join(root, 'big.txt'), 'x'.repeat(2_000))
  await writeFile(join(root, 'binary.bin'), new Uint8Array([0xff, 0xfe, 0x00, 0x6e]))
  await writeFile(join(root, 'node_modules', 'pkg', 'index.js'), 'needle in a dependency\n')
  await symlink('README.md', join(root, 'link-in.txt'))
  await symlink(join(dir, 'outside', 'secret.txt'), join(root, 'link-out.txt'))
  await symlink(join(dir, 'outside'), join(root, 'link-dir'))
})

after(async () => {
  await rm(dir, { recursive: true, force: true })
})

function tools(overrides: { max_search_results?: number } = {}): ToolRegistry {
  return createToolRegistry({
    memory,
    workspaceFs: nodeWorkspaceFs(),
    config: { workspace_root: root, timeout: 5_000, max_rounds: 4, max_file_bytes: 1_024, max_search_results: 50, ...overrides },
  })
}

async function run(name: string, args: Record<string, unknown>, registry = tools()): Promise<any> {
  return (await registry.execute(name, args, { userId: 'alice', signal: new AbortController().signal })).result
}

async function refused(name: string, args: Record<string, unknown>, status: number, pattern?: RegExp): Promise<HttpProblem> {
  try {
    await run(name, args)
  } catch (error) {
    assert.ok(error instanceof HttpProblem, String(error))
    assert.equal(error.status, status, `${name} ${JSON.stringify(args)}: ${error.detail}`)
    if (pattern) assert.match(error.detail ?? '', pattern)
    assert.doesNotMatch(JSON.stringify({ detail: error.detail, extensions: error.extensions }), /TOP SECRET/)
    return error
  }
  assert.fail(`${name} ${JSON.stringify(args)} was not refused`)
}

describe('workspace tools', () => {
  it('are registered only with a workspace root and a filesystem', () => {
    const names = (options: Parameters<typeof createBuiltinTools>[0]) => createBuiltinTools(options).map((tool) => tool.name)
    const config = { workspace_root: null, max_file_bytes: 1_024, max_search_results: 10 }
    assert.deepEqual(names({ memory, config, workspaceFs: nodeWorkspaceFs() }), ['calculator', 'current_time', 'memory_search', 'memory_store'])
    assert.equal(names({ memory, config: { ...config, workspace_root: root } }).includes('read_file'), false)
    assert.deepEqual(names({ memory, config: { ...config, workspace_root: root }, workspaceFs: nodeWorkspaceFs() }).slice(4), ['list_files', 'read_file', 'search_files'])
  })

  it('list_files lists the root in name order, leaving out symlinks that lead outside', async () => {
    const listing = await run('list_files', {})
    assert.equal(listing.path, '.')
    assert.equal(listing.truncated, false)
    assert.deepEqual(
      listing.entries.map((entry: { path: string; type: string }) => `${entry.type}:${entry.path}`),
      ['file:README.md', 'file:big.txt', 'file:binary.bin', 'file:link-in.txt', 'directory:node_modules', 'directory:src'],
    )
    assert.equal(listing.entries.find((entry: { path: string }) => entry.path === 'big.txt').size, 2_000)
  })

  it('list_files recurses into subdirectories but not into node_modules', async () => {
    const listing = await run('list_files', { recursive: true })
    const paths = listing.entries.map((entry: { path: string }) => entry.path)
    assert.ok(paths.includes('src/a.ts') && paths.includes('src/b.ts'))
    assert.ok(paths.includes('node_modules'))
    assert.ok(!paths.some((path: string) => path.startsWith('node_modules/')))
    assert.ok(!paths.some((path: string) => path.includes('secret') || path.startsWith('link-dir')))
    const sub = await run('list_files', { path: './src/' })
    assert.deepEqual(sub.entries.map((entry: { path: string }) => entry.path), ['src/a.ts', 'src/b.ts'])
  })

  it('read_file returns a text file, also through a symlink that stays inside', async () => {
    assert.deepEqual(await run('read_file', { path: 'README.md' }), { path: 'README.md', size: 25, content: 'hello world\nfind me here\n' })
    const viaLink = await run('read_file', { path: 'link-in.txt' })
    assert.equal(viaLink.content, 'hello world\nfind me here\n')
    assert.equal(viaLink.path, 'README.md')
  })

  it('read_file refuses files over max_file_bytes, binary files, directories and missing files', async () => {
    await refused('read_file', { path: 'big.txt' }, 422, /2000 bytes.*1024/)
    await refused('read_file', { path: 'binary.bin' }, 422, /not UTF-8/)
    const directory = await refused('read_file', { path: 'src' }, 400, /Not a file/)
    assert.deepEqual(directory.extensions?.errors, [{ path: 'path', message: 'Not a file: src' }])
    await refused('read_file', { path: 'missing.txt' }, 404, /No such file/)
  })

  it('refuses ".." and absolute paths, naming the path argument', async () => {
    for (const path of ['../outside/secret.txt', 'src/../../outside/secret.txt', '..', 'src/..']) {
      const problem = await refused('read_file', { path }, 400, /"\.\."/)
      assert.equal((problem.extensions?.errors as { path: string }[])[0].path, 'path')
    }
    await refused('read_file', { path: '/etc/passwd' }, 400, /Absolute paths/)
    await refused('read_file', { path: join(dir, 'outside', 'secret.txt') }, 400, /Absolute paths/)
    await refused('read_file', { path: 'C:/Windows/win.ini' }, 400, /Absolute paths/)
    await refused('read_file', { path: 'src\\..\\..\\outside' }, 400)
    await refused('list_files', { path: '../' }, 400)
    await refused('search_files', { query: 'SECRET', path: '..' }, 400)
  })

  it('refuses a symlinked file and a symlinked directory that lead outside', async () => {
    await refused('read_file', { path: 'link-out.txt' }, 403, /outside the workspace/)
    await refused('read_file', { path: 'link-dir/secret.txt' }, 403, /outside the workspace/)
    await refused('list_files', { path: 'link-dir' }, 403, /outside the workspace/)
    await refused('search_files', { query: 'SECRET', path: 'link-dir' }, 403, /outside the workspace/)
  })

  it('search_files finds plain text case-insensitively, skipping node_modules and outside links', async () => {
    const found = await run('search_files', { query: 'needle' })
    assert.deepEqual(found.matches, [
      { path: 'src/a.ts', line: 1, text: 'const needle = 1' },
      { path: 'src/b.ts', line: 1, text: 'needle needle' },
      { path: 'src/b.ts', line: 3, text: 'NEEDLE upper' },
    ])
    assert.equal(found.truncated, false)
    const exact = await run('search_files', { query: 'NEEDLE', case_sensitive: true })
    assert.deepEqual(exact.matches.map((match: { line: number }) => match.line), [3])
    const secret = await run('search_files', { query: 'TOP SECRET' })
    assert.deepEqual(secret.matches, [])
  })

  it('search_files treats the query as plain text, not a pattern', async () => {
    const found = await run('search_files', { query: '.*' })
    assert.deepEqual(found.matches, [])
  })

  it('search_files stops at max_search_results and says so', async () => {
    const found = await run('search_files', { query: 'e' }, tools({ max_search_results: 2 }))
    assert.equal(found.matches.length, 2)
    assert.equal(found.truncated, true)
  })
})
