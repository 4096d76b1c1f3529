import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, sep } from 'node:path'
import { ROOT } from './runtimes.ts'

/**
 * The environment a user's shell has: this process's, without what `npm test` added (the `npm_*`
 * variables and every `node_modules/.bin` on PATH), so a command behaves as typed in a terminal.
 */
export function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^npm_/i.test(name)) env[name] = value
  }
  env.PATH = (process.env.PATH ?? '')
    .split(':')
    .filter((entry) => entry !== '' && !entry.endsWith(`${sep}node_modules${sep}.bin`))
    .join(':')
  return { ...env, ...extra }
}

/** The files of the checkout a clone would have: tracked ones and new ones git does not ignore. */
export function checkoutFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' })
  return listed.split('\0').filter((path) => path !== '')
}

/**
 * A fresh clone of the checkout in a temporary directory (its working-tree files, so uncommitted work
 * is tested too): no dist/, no .wrangler/ state, no test/.tmp. Its node_modules is a link to the
 * checkout's, which is what `npm install` would have made. The caller removes the directory.
 */
export function freshClone(prefix = 'assistant-clone-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  for (const path of checkoutFiles()) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    // A file deleted in the working tree but still tracked is simply not there, as after `git rm`.
    try {
      cpSync(join(ROOT, path), join(dir, path))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  return dir
}
