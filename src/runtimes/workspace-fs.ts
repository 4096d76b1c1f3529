import { constants } from 'node:fs'
import { lstat, open, readdir, readlink, realpath, stat, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import type { WorkspaceFs } from '../features/tools/index.ts'

/** The workspace tools' filesystem on `node:fs` (also what Bun and Deno run). */
export function nodeWorkspaceFs(): WorkspaceFs {
  return {
    realpath: (target) => realpath(target),
    join: (base, relative) => path.join(base, ...relative.split('/')),
    relativeInside(root, target) {
      const relative = path.relative(root, target)
      if (relative === '') return ''
      if (relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) return null
      return relative.split(path.sep).join('/')
    },
    async stat(target) {
      const info = await stat(target)
      return { kind: info.isFile() ? 'file' : info.isDirectory() ? 'directory' : 'other', size: info.size }
    },
    async readDir(directory) {
      const entries = await readdir(directory, { withFileTypes: true })
      return entries.map((entry) => ({
        name: entry.name,
        kind: entry.isFile() ? 'file' : entry.isDirectory() ? 'directory' : entry.isSymbolicLink() ? 'symlink' : 'other',
      }))
    },
    async readFile(target, maxBytes) {
      // O_NOFOLLOW: a file swapped for a symlink after the realpath check is refused (ELOOP), not followed.
      const handle = await open(target, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0))
      try {
        const real = await openedPath(handle, target)
        const buffer = new Uint8Array(maxBytes)
        let total = 0
        while (total < maxBytes) {
          const { bytesRead } = await handle.read(buffer, total, maxBytes - total, null)
          if (bytesRead === 0) break
          total += bytesRead
        }
        return { bytes: buffer.subarray(0, total), real }
      } finally {
        await handle.close()
      }
    },
  }
}

/**
 * Where the file behind `handle` lives. On Linux the kernel names the descriptor itself
 * (`/proc/self/fd/N`), whatever happened to the path since. Elsewhere the path's canonical form now,
 * accepted only when it is the very file opened (same device and inode), else ESTALE.
 */
async function openedPath(handle: FileHandle, target: string): Promise<string> {
  const named = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => null)
  if (named !== null && path.isAbsolute(named)) return named
  const [opened, real] = await Promise.all([handle.stat(), realpath(target)])
  const now = await lstat(real)
  if (opened.dev !== now.dev || opened.ino !== now.ino) throw Object.assign(new Error(`${target} changed while it was opened`), { code: 'ESTALE' })
  return real
}
