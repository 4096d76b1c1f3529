import pino, { type Logger } from 'pino'
import type { Hono } from 'hono'
import { createApp } from '../../src/app.ts'
import type { AppEnv } from '../../src/env.ts'
import { loadConfig } from '../../src/config/index.ts'
import { buildDeps, type AppDeps, type RuntimeDeps } from '../../src/deps.ts'

/** API keys every in-process test can use. */
export const KEYS = {
  alice: 'alice-test-key-0123456789',
  bob: 'bob-test-key-0123456789abc',
}

export const AUTH = {
  alice: { authorization: `Bearer ${KEYS.alice}` },
  bob: { authorization: `Bearer ${KEYS.bob}` },
}

/** A logger that records lines in memory, for assertions on what was logged. */
export function memoryLogger(level = 'info'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const logger = pino(
    { level },
    { write: (line: string) => void lines.push(JSON.parse(line)) },
  )
  return { logger, lines }
}

export interface TestAppOptions {
  /** Environment variables, as the entrypoint would pass them (e.g. `{ RATE_LIMIT_BURST: '2' }`). */
  env?: Record<string, string>
  deps?: Partial<Omit<RuntimeDeps, 'config'>>
  /** Extra routes, run through the whole chain (`app.route('/', routes)`). */
  routes?: Hono<AppEnv>
}

/** A fresh app with its own deps; keys for alice and bob; rate limiting off unless the env turns it on. */
export async function testApp(options: TestAppOptions = {}) {
  const config = await loadConfig({
    env: {
      API_KEYS: `alice:${KEYS.alice},bob:${KEYS.bob}`,
      RATE_LIMIT_ENABLED: 'false',
      ...options.env,
    },
  })
  const { logger, lines } = memoryLogger()
  const deps: AppDeps = buildDeps({ config, logger, ...options.deps })
  deps.lifecycle.markReady()
  const app = createApp(deps)
  if (options.routes) app.route('/', options.routes)
  return { app, deps, config, lines }
}
