import { Hono } from 'hono'
import type { AppEnv } from '../../env.ts'
import type { WallClock } from '../../kernel/clock.ts'
import { json } from '../../pipeline/index.ts'
import type { HealthChecks, Lifecycle } from './checks.ts'

export interface HealthRoutesOptions {
  checks: HealthChecks
  lifecycle: Lifecycle
  clock: WallClock
  version: string
  service: string
}

/** `/health` (dependencies), `/ready` (should traffic come here), `/live` (is the process serving). */
export function healthRoutes(options: HealthRoutesOptions) {
  const { checks, lifecycle, clock } = options
  return new Hono<AppEnv>()
    .get('/health', async (c) => {
      const report = await checks.report()
      const dependencies: Record<string, 'connected' | 'disconnected'> = {}
      for (const [name, result] of Object.entries(report.checks)) {
        dependencies[name] = result.healthy ? 'connected' : 'disconnected'
      }
      const body = {
        status: report.healthy ? 'healthy' : 'unhealthy',
        timestamp: clock.now(),
        version: options.version,
        service: options.service,
        dependencies,
        checks: report.checks,
      }
      return json(c, body, report.healthy ? 200 : 503, { 'cache-control': 'no-store' })
    })
    .get('/ready', async (c) => {
      let status: string = lifecycle.state
      let ok = lifecycle.state === 'ready'
      if (ok) {
        const report = await checks.report()
        if (!report.ready) {
          ok = false
          status = 'dependencies_unavailable'
        }
      }
      return json(c, { status: ok ? 'ready' : status }, ok ? 200 : 503, { 'cache-control': 'no-store' })
    })
    .get('/live', (c) => json(c, { status: 'alive' }, 200, { 'cache-control': 'no-store' }))
}
