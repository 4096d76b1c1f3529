import type { ErrorHandler } from 'hono'
import { Hono } from 'hono'
import type { AppEnv } from '../../src/env.ts'
import { notFound, recovery } from '../../src/middleware/recovery/index.ts'
import { createPipeline, type ChainEntry, type StageMiddleware } from '../../src/pipeline/index.ts'
import { memoryLogger } from './app.ts'

/**
 * The two ways every middleware runs: `app.use()` on a fresh Hono app (what anyone mounting one piece
 * gets) and the app's pipeline (what production runs). Middleware tests run their cases in both.
 */
export type Form = 'app.use' | 'pipeline'
export const FORMS: Form[] = ['app.use', 'pipeline']

export interface FormOptions {
  /** The app's error handler. Default: none on the `app.use` form (Hono's own), recovery on the pipeline. */
  onError?: ErrorHandler<AppEnv>
  /** Failures the pipeline reports (observers). */
  reported?: { stage: string; error: unknown }[]
}

/** A fresh app with `middlewares` in front of the routes `define` adds, in the given form. */
export function appWith(form: Form, middlewares: (StageMiddleware | ChainEntry)[], define: (app: Hono<AppEnv>) => void, options: FormOptions = {}): Hono<AppEnv> {
  const onError = options.onError
  if (form === 'app.use') {
    const app = new Hono<AppEnv>()
    for (const entry of middlewares) {
      if (typeof entry === 'function') app.use(entry)
      else app.use(`${entry.placement.under ?? ''}/*`, entry.middleware)
    }
    define(app)
    if (onError) app.onError(onError)
    return app
  }
  const hono = new Hono<AppEnv>()
  const routes = new Hono<AppEnv>()
  define(routes)
  const handler = onError ?? recovery({ logger: memoryLogger().logger })
  const report = (stage: string, error: unknown) => void options.reported?.push({ stage, error })
  const pipeline = createPipeline(middlewares as ChainEntry[], { onError: handler, report })
  pipeline.mount(hono, '/', routes)
  hono.onError(handler)
  hono.notFound(pipeline.notFound(notFound(hono)))
  return hono
}
