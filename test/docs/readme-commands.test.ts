import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { freshClone, userEnv } from '../helpers/fresh.ts'
import { freePort, ROOT } from '../helpers/runtimes.ts'

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>

/** A Markdown table row's cells (the outer pipes dropped). */
const cells = (row: string) => row.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((cell) => cell.trim())
/** The `code spans` of a table cell, leaving out those in (parenthesised remarks). */
const codeSpans = (cell: string) => [...cell.replace(/\([^)]*\)/g, '').matchAll(/`([^`]+)`/g)].map((match) => match[1])

/** The Runtimes table's `start` row: each runtime's column and the commands it gives. */
function startCommands(): { runtime: string; command: string }[] {
  const lines = readme.split('\n')
  const header = lines.findIndex((line) => /^\|\s*\|\s*Node\s*\|\s*Bun\s*\|\s*Deno\s*\|/.test(line))
  assert.ok(header >= 0, 'the Runtimes table')
  const runtimes = cells(lines[header]).slice(1)
  const row = lines.slice(header).find((line) => cells(line)[0] === 'start')
  assert.ok(row, 'the Runtimes table has a start row')
  return cells(row).slice(1).flatMap((cell, i) => codeSpans(cell).map((command) => ({ runtime: runtimes[i], command })))
}

/** Every `npm start` / `npm run start…` the Commands table gives. */
function commandsTableStarts(): string[] {
  return readme
    .split('\n')
    .filter((line) => line.startsWith('| `npm'))
    .flatMap((line) => codeSpans(cells(line)[0]))
    .filter((command) => /^npm (start|run start)/.test(command))
}

describe('README commands', () => {
  it('starts with exactly npm install, npm start, npm test', () => {
    const [, block] = /```sh\n([\s\S]*?)```/.exec(readme) ?? []
    assert.deepEqual(block.trim().split('\n').map((line) => line.replace(/#.*$/, '').trim()), ['npm install', 'npm start', 'npm test'])
  })

  it('gives a start command for every runtime, each an npm script of package.json', () => {
    const commands = startCommands()
    assert.deepEqual([...new Set(commands.map((c) => c.runtime))], ['Node', 'Bun', 'Deno', 'Cloudflare Workers'])
    for (const { command } of commands) {
      for (const step of command.split('&&').map((part) => part.trim())) {
        const [, script] = /^npm (?:run )?([\w:-]+)$/.exec(step) ?? []
        assert.ok(script && scripts[script], `${command}: "${step}" is not an npm script (a bare binary is not on a fresh clone's PATH)`)
      }
    }
    // The Commands table and the Runtimes table agree.
    for (const command of commandsTableStarts().flatMap((cell) => cell.split(', '))) {
      assert.ok(commands.some((c) => c.command === command || c.command.endsWith(`&& ${command}`)) || command === 'npm run build', `${command} is not in the Runtimes table`)
    }
  })

  // Each command runs as written, through a shell, in a fresh copy of the checkout whose PATH is a
  // user's (no node_modules/.bin), until /health answers. PORT and HOST put it on a free loopback port
  // (wrangler ignores them and finds a free port itself, printing it).
  describe('each start command, run as written on a fresh clone', () => {
    let clone: string
    before(() => {
      clone = freshClone()
    })
    after(() => rmSync(clone, { recursive: true, force: true }))

    for (const { runtime, command } of startCommands()) {
      it(`${runtime}: ${command}`, async () => {
        const port = await freePort()
        const logFile = join(clone, `.start-${port}.log`)
        const log = openSync(logFile, 'w')
        const child = spawn('sh', ['-c', command], {
          cwd: clone,
          detached: true,
          stdio: ['ignore', log, log],
          env: userEnv({ HOST: '127.0.0.1', PORT: String(port), WRANGLER_SEND_METRICS: 'false', DENO_NO_UPDATE_CHECK: '1' }),
        })
        closeSync(log)
        const output = () => readFileSync(logFile, 'utf8')
        let exited: number | string | undefined
        child.once('exit', (code, signal) => (exited = code ?? signal ?? -1))
        try {
          const deadline = Date.now() + 90_000
          let healthy = false
          while (!healthy && Date.now() < deadline && exited === undefined) {
            const [, printed] = /Ready on http:\/\/127\.0\.0\.1:(\d+)/.exec(output()) ?? []
            try {
              const res = await fetch(`http://127.0.0.1:${printed ?? port}/health`, { signal: AbortSignal.timeout(2_000) })
              healthy = res.status === 200
              await res.body?.cancel()
            } catch {
              await new Promise((resolve) => setTimeout(resolve, 250))
            }
          }
          assert.ok(healthy, `no healthy server (exit ${exited}) from \`${command}\`:\n${output().slice(-4000)}`)
          // A fresh clone has no widget bundle (it is generated and git-ignored): the start command built it.
          const [, printed] = /Ready on http:\/\/127\.0\.0\.1:(\d+)/.exec(output()) ?? []
          const bundle = await fetch(`http://127.0.0.1:${printed ?? port}/assets/widget.js`, { signal: AbortSignal.timeout(5_000) })
          assert.equal(bundle.status, 200, `the widget bundle is not served after \`${command}\`:\n${output().slice(-2000)}`)
          assert.match(bundle.headers.get('content-type') ?? '', /javascript/)
          await bundle.body?.cancel()
        } finally {
          for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
            try {
              process.kill(-child.pid!, signal)
            } catch {
              // The group is gone.
            }
            if (signal === 'SIGTERM') await new Promise((resolve) => setTimeout(resolve, 1_500))
          }
        }
      })
    }
  })
})
