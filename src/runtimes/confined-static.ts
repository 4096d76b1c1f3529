import { realpath } from 'node:fs/promises'
import { resolve, sep } from 'node:path'
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env.ts'

/**
 * `serveStatic` kept inside `root`: a path whose real location (symlinks resolved) lies outside it
 * goes on to `next` (the 404) as a missing file would. The runtimes' serveStatic helpers follow
 * symlinks; a link in `public/` must not publish the rest of the disk. Dotfiles are the app's to
 * refuse (`createApp`), on every runtime.
 */
export function confinedStatic(root: string, serve: MiddlewareHandler<AppEnv>): MiddlewareHandler<AppEnv> {
  const base = resolve(root)
  let realBase: Promise<string> | undefined
  return async function confinedServeStatic(c, next) {
    realBase ??= realpath(base).catch(() => base)
    let path: string
    try {
      path = decodeURIComponent(new URL(c.req.url).pathname)
    } catch {
      return next()
    }
    const real = await realpath(resolve(base, `.${path}`)).catch(() => null)
    // A file that is not there is serveStatic's own miss; one that resolves outside is refused.
    if (real !== null) {
      const inside = await realBase
      if (real !== inside && !real.startsWith(inside + sep)) return next()
    }
    return serve(c, next)
  }
}
