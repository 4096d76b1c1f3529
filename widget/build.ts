// Bundles the chat widget (widget/src/) into public/assets/ with esbuild, a devDependency: the
// bundle is generated, git-ignored, and built by `npm run build`, before every start script when it
// is missing or older than its sources, and in the Docker image's build stage.
//
//   node widget/build.ts             build now
//   node widget/build.ts --if-stale  build only when the bundle is missing or older than a source
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const SOURCES = join(ROOT, 'widget/src')
/** The one generated file; public/index.html loads it. */
export const WIDGET_BUNDLE = join(ROOT, 'public/assets/widget.js')

function newestSource(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs)
  }
  return newest
}

/** Whether the bundle is missing or older than a source file (or this script); without sources, whether it is missing. */
export function widgetIsStale(): boolean {
  if (!existsSync(WIDGET_BUNDLE)) return true
  if (!existsSync(SOURCES)) return false
  const built = statSync(WIDGET_BUNDLE).mtimeMs
  return Math.max(newestSource(SOURCES), statSync(fileURLToPath(import.meta.url)).mtimeMs) > built
}

/**
 * Builds the bundle: one minified ES2022 script (no eval, no inline code: the page's CSP allows
 * `script-src 'self'` only). Written to a temporary file and renamed, so a server reading
 * public/ never sees half a file. esbuild is imported here only, so a production install (no
 * devDependencies) with a built bundle never needs it.
 */
export async function buildWidget(): Promise<void> {
  const { build } = await import('esbuild')
  const result = await build({
    entryPoints: [join(SOURCES, 'main.ts')],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2022',
    platform: 'browser',
    legalComments: 'none',
    write: false,
    logLevel: 'warning',
  })
  mkdirSync(dirname(WIDGET_BUNDLE), { recursive: true })
  const temporary = `${WIDGET_BUNDLE}.${process.pid}.tmp`
  writeFileSync(temporary, result.outputFiles[0].contents)
  renameSync(temporary, WIDGET_BUNDLE)
}

/** Builds when stale; resolves with whether it did. */
export async function ensureWidget(): Promise<boolean> {
  if (!widgetIsStale()) return false
  await buildWidget()
  return true
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const onlyIfStale = process.argv.includes('--if-stale')
  const built = onlyIfStale ? await ensureWidget() : (await buildWidget(), true)
  if (built) console.error(`widget: built ${relative(ROOT, WIDGET_BUNDLE)}`)
}
