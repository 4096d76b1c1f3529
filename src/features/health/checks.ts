import type { HealthCheck } from '../../kernel/health.ts'
import type { Clock, TimerHandle } from '../../kernel/clock.ts'

export interface CheckResult {
  healthy: boolean
  latency_ms: number
  error?: string
}

export interface HealthReport {
  healthy: boolean
  /** Whether every critical check passed. */
  ready: boolean
  checks: Record<string, CheckResult>
}

export interface HealthChecksOptions {
  /** Caching and the per-check timeouts run on it. */
  clock: Clock
  /** How long a report is reused, so probe floods cannot hammer dependencies. Default 1000 ms. */
  cacheMs?: number
  /** Default per-check timeout. Default 5000 ms. */
  timeoutMs?: number
}

/** Pluggable dependency checks, run concurrently, each bounded, results cached and shared. */
export class HealthChecks {
  readonly #checks = new Map<string, HealthCheck>()
  readonly #clock: Clock
  readonly #cacheMs: number
  readonly #timeoutMs: number
  #cached: { at: number; report: Promise<HealthReport> } | undefined

  constructor(options: HealthChecksOptions) {
    this.#clock = options.clock
    this.#cacheMs = options.cacheMs ?? 1000
    this.#timeoutMs = options.timeoutMs ?? 5000
  }

  register(check: HealthCheck): void {
    this.#checks.set(check.name, check)
    this.#cached = undefined
  }

  get names(): string[] {
    return [...this.#checks.keys()]
  }

  /** The latest report, computed at most once per cache window; concurrent callers share one run. */
  report(): Promise<HealthReport> {
    const now = this.#clock.now()
    if (this.#cached && now - this.#cached.at < this.#cacheMs) return this.#cached.report
    const report = this.#run()
    this.#cached = { at: now, report }
    return report
  }

  async #run(): Promise<HealthReport> {
    const entries = await Promise.all([...this.#checks.values()].map(async (check) => [check, await this.#probe(check)] as const))
    const checks: Record<string, CheckResult> = {}
    let healthy = true
    let ready = true
    for (const [check, result] of entries) {
      checks[check.name] = result
      if (!result.healthy) {
        healthy = false
        if (check.critical !== false) ready = false
      }
    }
    return { healthy, ready, checks }
  }

  async #probe(check: HealthCheck): Promise<CheckResult> {
    const timeoutMs = check.timeoutMs ?? this.#timeoutMs
    const controller = new AbortController()
    const started = performance.now()
    let timer: TimerHandle | undefined
    const timedOut = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(() => {
        controller.abort()
        reject(new Error(`timed out after ${timeoutMs} ms`))
      }, timeoutMs)
    })
    try {
      await Promise.race([check.check(controller.signal), timedOut])
      return { healthy: true, latency_ms: round(performance.now() - started) }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      return { healthy: false, latency_ms: round(performance.now() - started), error: message.slice(0, 200) }
    } finally {
      this.#clock.clearTimeout(timer)
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}

export type LifecycleState = 'starting' | 'ready' | 'draining'

/** Whether the process should receive traffic; the entrypoint moves it along. */
export class Lifecycle {
  state: LifecycleState = 'starting'
  markReady(): void {
    if (this.state === 'starting') this.state = 'ready'
  }
  markDraining(): void {
    this.state = 'draining'
  }
}
