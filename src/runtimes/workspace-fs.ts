import { constants } from 'node:fs'
import { open, readdir, realpath, stat } from 'node:fs/promises'
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
        const buffer = new Uint8Array(maxBytes)
        let total = 0
        while (total < maxBytes) {
          const { bytesRead } = await handle.read(buffer, total, maxBytes - total, null)
          if (bytesRead === 0) break
          total += bytesRead
        }
        return buffer.subarray(0, total)
      } finally {
        await handle.close()
      }
    },
  }
}
