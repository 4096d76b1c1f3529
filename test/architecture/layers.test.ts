import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, describe, it } from 'node:test'
import { ROOT } from '../helpers/runtimes.ts'

const DEPCRUISE = join(ROOT, 'node_modules/.bin/depcruise')

interface Violation {
  rule: { name: string }
  from: string
  to: string
}

/** dependency-cruiser's verdict on `dir`'s src/ under the project's rules. */
function violations(dir: string): Violation[] {
  let out: string
  try {
    out = execFileSync(DEPCRUISE, ['src', '--config', join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'json'], { cwd: dir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  } catch (error) {
    // It exits non-zero when it finds violations; the report is still on stdout.
    out = (error as { stdout?: string }).stdout ?? ''
    if (!out) throw error
  }
  return JSON.parse(out).summary.violations as Violation[]
}

describe('layering (dependency-cruiser, .dependency-cruiser.cjs)', () => {
  it('src/ has no import cycle and breaks no layering rule', () => {
    const found = violations(ROOT)
    assert.deepEqual(found.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`), [])
  })

  describe('the rules catch what they forbid', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'layers-'))
    after(() => rmSync(scratch, { recursive: true, force: true }))
    cpSync(join(ROOT, 'tsconfig.json'), join(scratch, 'tsconfig.json'))
    const files: Record<string, string> = {
      'src/kernel/clock.ts': "import { x } from '../features/a/index.ts'\nexport const clock = x\n",
      'src/features/a/index.ts': "import { b } from '../b/index.ts'\nimport { run } from '../../runtimes/node.ts'\nexport const x = b + run\n",
      'src/features/b/index.ts': "import { x } from '../a/index.ts'\nexport const b = String(x)\n",
      'src/runtimes/node.ts': "export const run = 'node'\n",
      'src/storage/memory.ts': "import { x } from '../features/a/index.ts'\nexport const y = x\n",
      'src/providers/p.ts': "import { x } from '../features/a/index.ts'\nexport const p = x\n",
      'src/pipeline/index.ts': "import { m } from '../middleware/m/index.ts'\nexport const pipe = m\n",
      'src/middleware/m/index.ts': "import { x } from '../../features/a/index.ts'\nimport { readFileSync } from 'node:fs'\nexport const m = String(x) + typeof readFileSync\n",
      'src/deps.ts': "export const deps = 1\n",
      'src/features/c.ts': "import { deps } from '../deps.ts'\nexport const c = deps\n",
      'src/redis/index.ts': "export const r = 1\n",
      'src/features/d.ts': "import { r } from '../redis/index.ts'\nexport const d = r\n",
    }
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(scratch, path)), { recursive: true })
      writeFileSync(join(scratch, path), text)
    }
    const found = violations(scratch)
    const names = new Set(found.map((v) => v.rule.name))
    const rules = [
      'no-cycles',
      'kernel-imports-nothing-of-the-app',
      'features-never-import-runtimes',
      'storage-and-providers-never-import-features',
      'pipeline-knows-no-middleware-or-feature',
      'middleware-never-imports-features',
      'composition-root-for-entrypoints-only',
      'core-uses-web-apis-only',
      'redis-client-behind-its-port',
    ]
    for (const rule of rules) it(`reports ${rule}`, () => assert.ok(names.has(rule), `${rule} not reported: ${[...names].join(', ')}`))
  })
})

describe('source size', () => {
  it('keeps every file in src/ under about 300 lines', () => {
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name)
        return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : []
      })
    const long = walk(join(ROOT, 'src'))
      .map((path) => [path.slice(ROOT.length + 1), readFileSync(path, 'utf8').split('\n').length] as const)
      .filter(([, lines]) => lines > 320)
    assert.deepEqual(long, [])
  })
})
