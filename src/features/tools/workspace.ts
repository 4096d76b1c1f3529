import { z } from 'zod'
import { ToolError, type Tool, type ToolContext } from './registry.ts'

/**
 * The filesystem the workspace tools need, supplied by a runtime that has one
 * (`src/runtimes/workspace-fs.ts` for Node, Bun and Deno). Failures reject with Node-style errors
 * carrying `code` (`ENOENT`, `ENOTDIR`, `EACCES` …).
 */
export interface WorkspaceFs {
  /** The canonical absolute path with every symlink resolved; rejects when it does not exist. */
  realpath(path: string): Promise<string>
  /** `base` followed by a normalised relative path (`a/b`, never `..`), in the platform's form. */
  join(base: string, relative: string): string
  /** `target` relative to `root` with `/` separators (`''` for the root), or null when it is not inside. */
  relativeInside(root: string, target: string): string | null
  /** Follows symlinks. */
  stat(path: string): Promise<{ kind: 'file' | 'directory' | 'other'; size: number }>
  readDir(path: string): Promise<{ name: string; kind: 'file' | 'directory' | 'symlink' | 'other' }[]>
  /**
   * The first `maxBytes` bytes, and where the file actually opened lives (`real`, canonical), learnt
   * from the open descriptor: a directory swapped for a symlink after the path was checked shows up
   * there. Refuses to follow a symlink in the last component.
   */
  readFile(path: string, maxBytes: number): Promise<{ bytes: Uint8Array; real: string }>
}

export interface WorkspaceLimits {
  /** Largest file `read_file` returns and `search_files` looks into. */
  maxFileBytes: number
  /** Most matches `search_files` returns. */
  maxSearchResults: number
}

/** Directories a recursive listing or search shows but does not walk into. */
const SKIPPED_DIRECTORIES = new Set(['.git', 'node_modules'])
const MAX_LIST_ENTRIES = 1_000
const MAX_FILES_SEARCHED = 5_000
const MAX_LINE_CHARS = 240

interface Resolved {
  /** Canonical absolute path. */
  real: string
  /** Relative to the workspace root, `/`-separated; `.` for the root. */
  relative: string
}

/** Path checks for every access: relative paths only, no `..`, and the resolved target inside the root. */
export class Workspace {
  readonly fs: WorkspaceFs
  readonly #configuredRoot: string
  #root: Promise<string> | undefined

  constructor(fs: WorkspaceFs, root: string) {
    this.fs = fs
    this.#configuredRoot = root
  }

  /** The root's canonical path, resolved once (a symlinked root is fine). */
  root(): Promise<string> {
    this.#root ??= this.fs.realpath(this.#configuredRoot)
    return this.#root
  }

  /** Resolves a caller-supplied path, refusing anything that is, or leads, outside the root. */
  async resolve(path: string, field = 'path'): Promise<Resolved> {
    const segments = normalise(path, field)
    const root = await this.root()
    const joined = segments.length === 0 ? root : this.fs.join(root, segments.join('/'))
    const resolved = await this.contain(joined)
    if (!resolved) throw new ToolError(`The path "${path}" leads outside the workspace`, { status: 403 })
    return resolved
  }

  /** `path`'s canonical form if it lies inside the root, else null; a missing path is a 404. */
  async contain(path: string): Promise<Resolved | null> {
    const root = await this.root()
    let real: string
    try {
      real = await this.fs.realpath(path)
    } catch (error) {
      throw fsError(error, path === root ? '.' : (this.fs.relativeInside(root, path) ?? 'path'))
    }
    const relative = this.fs.relativeInside(root, real)
    return relative === null ? null : { real, relative: relative || '.' }
  }

  /**
   * Reads a resolved file, refusing (403) when the descriptor opened lies outside the root: the path
   * was checked before the open, and a component swapped in between must not lead out.
   */
  async read(file: Resolved, maxBytes: number): Promise<Uint8Array> {
    const { bytes, real } = await this.fs.readFile(file.real, maxBytes)
    if (this.fs.relativeInside(await this.root(), real) === null) {
      throw new ToolError(`The path "${file.relative}" leads outside the workspace`, { status: 403 })
    }
    return bytes
  }

  /** `fs.stat` with a vanished or unreadable path as a 404/403/422 problem rather than a 500. */
  async stat(resolved: Resolved): Promise<Awaited<ReturnType<WorkspaceFs['stat']>>> {
    try {
      return await this.fs.stat(resolved.real)
    } catch (error) {
      throw fsError(error, resolved.relative)
    }
  }

  /**
   * Walks directories breadth first, in name order, calling `visit` for each entry inside the root.
   * Symlinks are followed only when they resolve inside the root, and never into directories (no loops).
   * Returns false when `visit` asked to stop.
   */
  async walk(
    start: Resolved,
    recursive: boolean,
    signal: AbortSignal,
    visit: (entry: Resolved & { kind: 'file' | 'directory' }) => Promise<boolean> | boolean,
  ): Promise<boolean> {
    const queue: Resolved[] = [start]
    while (queue.length > 0) {
      signal.throwIfAborted()
      const queued = queue.shift()!
      // Re-checked when entered: a directory swapped for a symlink since it was listed is dropped.
      const directory = queued === start ? queued : await this.contain(queued.real).then((checked) => checked && { ...checked, relative: queued.relative }, () => null)
      if (!directory) continue
      let entries: Awaited<ReturnType<WorkspaceFs['readDir']>>
      try {
        entries = await this.fs.readDir(directory.real)
      } catch {
        continue // unreadable or vanished: skip it rather than fail the whole listing
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      for (const entry of entries) {
        const path = this.fs.join(directory.real, entry.name)
        let kind = entry.kind
        let resolved: Resolved | null = { real: path, relative: directory.relative === '.' ? entry.name : `${directory.relative}/${entry.name}` }
        if (kind === 'symlink') {
          const target = await this.contain(path).catch(() => null)
          if (!target) continue
          const stat = await this.fs.stat(target.real).catch(() => null)
          if (!stat || stat.kind === 'other') continue
          kind = stat.kind
          resolved = { real: target.real, relative: resolved.relative }
          if (kind === 'directory') {
            if (!(await visit({ ...resolved, kind }))) return false
            continue
          }
        }
        if (kind !== 'file' && kind !== 'directory') continue
        if (!(await visit({ ...resolved, kind }))) return false
        if (kind === 'directory' && recursive && !SKIPPED_DIRECTORIES.has(entry.name)) queue.push(resolved)
      }
    }
    return true
  }
}

/** `a/./b/` → `['a', 'b']`; absolute paths, `..`, backslashes and NUL are refused. */
function normalise(path: string, field: string): string[] {
  if (path.includes('\0')) throw new ToolError('The path contains a NUL character', { field })
  if (path.includes('\\')) throw new ToolError('Use "/" to separate path segments', { field })
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) {
    throw new ToolError('Absolute paths are not allowed; give a path relative to the workspace root', { field })
  }
  const segments = path.split('/').filter((segment) => segment !== '' && segment !== '.')
  if (segments.includes('..')) throw new ToolError('".." is not allowed in workspace paths', { field })
  return segments
}

function fsError(error: unknown, path: string): ToolError {
  const code = (error as { code?: unknown } | null)?.code
  if (code === 'ENOENT' || code === 'ENOTDIR') return new ToolError(`No such file or directory: ${path}`, { status: 404 })
  if (code === 'EACCES' || code === 'EPERM') return new ToolError(`Permission denied: ${path}`, { status: 403 })
  if (code === 'ELOOP') return new ToolError(`Too many symbolic links: ${path}`, { status: 422 })
  return new ToolError(`Cannot access ${path}`, { status: 422 })
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function decodeText(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes)
  } catch {
    return null
  }
}

const pathArgument = z.string().max(1024)

const listFilesSchema = z.strictObject({
  path: pathArgument.default('.').describe('Directory relative to the workspace root; default the root'),
  recursive: z.boolean().default(false).describe('Also list subdirectories (not .git or node_modules)'),
})

const readFileSchema = z.strictObject({
  path: pathArgument.min(1).describe('File path relative to the workspace root'),
})

const searchFilesSchema = z.strictObject({
  query: z.string().min(1).max(200).describe('Plain text to look for (not a regular expression)'),
  path: pathArgument.default('.').describe('Directory to search, relative to the workspace root; default the root'),
  case_sensitive: z.boolean().default(false),
})

export function listFilesTool(workspace: Workspace): Tool<typeof listFilesSchema> {
  return {
    name: 'list_files',
    description: 'Lists the files and directories of the development workspace, optionally recursively.',
    schema: listFilesSchema,
    async handler({ path, recursive }, ctx: ToolContext) {
      const start = await workspace.resolve(path)
      const stat = await workspace.stat(start)
      if (stat.kind !== 'directory') throw new ToolError(`Not a directory: ${start.relative}`, { field: 'path' })
      const entries: { path: string; type: 'file' | 'directory'; size?: number }[] = []
      let truncated = false
      await workspace.walk(start, recursive, ctx.signal, async (entry) => {
        if (entries.length >= MAX_LIST_ENTRIES) {
          truncated = true
          return false
        }
        if (entry.kind === 'file') {
          const size = (await workspace.fs.stat(entry.real).catch(() => null))?.size
          entries.push(size === undefined ? { path: entry.relative, type: 'file' } : { path: entry.relative, type: 'file', size })
        } else {
          entries.push({ path: entry.relative, type: 'directory' })
        }
        return true
      })
      return { path: start.relative, entries, truncated }
    },
  }
}

export function readFileTool(workspace: Workspace, limits: WorkspaceLimits): Tool<typeof readFileSchema> {
  return {
    name: 'read_file',
    description: `Reads a UTF-8 text file of the development workspace (at most ${limits.maxFileBytes} bytes).`,
    schema: readFileSchema,
    async handler({ path }) {
      const file = await workspace.resolve(path)
      const stat = await workspace.stat(file)
      if (stat.kind !== 'file') throw new ToolError(`Not a file: ${file.relative}`, { field: 'path' })
      const tooLarge = (size: number) =>
        new ToolError(`The file ${file.relative} is ${size} bytes; read_file returns at most ${limits.maxFileBytes}`, { status: 422 })
      if (stat.size > limits.maxFileBytes) throw tooLarge(stat.size)
      let bytes: Uint8Array
      try {
        bytes = await workspace.read(file, limits.maxFileBytes + 1)
      } catch (error) {
        throw error instanceof ToolError ? error : fsError(error, file.relative)
      }
      if (bytes.length > limits.maxFileBytes) throw tooLarge(bytes.length)
      const content = decodeText(bytes)
      if (content === null) throw new ToolError(`The file ${file.relative} is not UTF-8 text`, { status: 422 })
      return { path: file.relative, size: bytes.length, content }
    },
  }
}

export function searchFilesTool(workspace: Workspace, limits: WorkspaceLimits): Tool<typeof searchFilesSchema> {
  return {
    name: 'search_files',
    description: `Searches the text files of the development workspace for a plain string; returns up to ${limits.maxSearchResults} matching lines.`,
    schema: searchFilesSchema,
    async handler({ query, path, case_sensitive }, ctx: ToolContext) {
      const start = await workspace.resolve(path)
      const stat = await workspace.stat(start)
      if (stat.kind !== 'directory') throw new ToolError(`Not a directory: ${start.relative}`, { field: 'path' })
      const needle = case_sensitive ? query : query.toLowerCase()
      const matches: { path: string; line: number; text: string }[] = []
      let filesSearched = 0
      let truncated = false
      await workspace.walk(start, true, ctx.signal, async (entry) => {
        if (entry.kind !== 'file') return true
        if (filesSearched >= MAX_FILES_SEARCHED) {
          truncated = true
          return false
        }
        ctx.signal.throwIfAborted()
        const size = (await workspace.fs.stat(entry.real).catch(() => null))?.size
        if (size === undefined || size > limits.maxFileBytes) return true
        // A file that vanished or led outside since it was listed is skipped, not reported.
        const bytes = await workspace.read(entry, limits.maxFileBytes).catch(() => null)
        const text = bytes && decodeText(bytes)
        if (!text) return true
        filesSearched++
        const lines = text.split(/\r?\n/)
        for (let i = 0; i < lines.length; i++) {
          const line = lines[i]
          if (!(case_sensitive ? line : line.toLowerCase()).includes(needle)) continue
          if (matches.length >= limits.maxSearchResults) {
            truncated = true
            return false
          }
          const trimmed = line.trim()
          matches.push({ path: entry.relative, line: i + 1, text: trimmed.length > MAX_LINE_CHARS ? `${trimmed.slice(0, MAX_LINE_CHARS)}…` : trimmed })
        }
        return true
      })
      return { query, matches, truncated, files_searched: filesSearched }
    },
  }
}
