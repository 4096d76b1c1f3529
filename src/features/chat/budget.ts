import type { Clock, TimerHandle } from '../../kernel/clock.ts'
import { problems, type HttpProblem } from '../../kernel/problem.ts'
import type { ChatJob } from './jobs.ts'

/**
 * A generation's two time budgets: the whole reply (`totalMs`) and the wait for the model's next
 * event (`idleMs`). Both share one timer, re-armed only when it fires, so activity costs a clock
 * read. When either runs out the job is stopped with reason `timeout`.
 */
export class GenerationBudget {
  readonly #job: Pick<ChatJob, 'stop'>
  readonly #clock: Clock
  readonly #idleMs: number
  readonly #totalMs: number
  readonly #startedAt: number
  #lastActivity: number
  #timer: TimerHandle | undefined
  #expired: 'idle' | 'total' | null = null

  constructor(job: Pick<ChatJob, 'stop'>, clock: Clock, idleMs: number, totalMs: number) {
    this.#job = job
    this.#clock = clock
    this.#idleMs = idleMs
    this.#totalMs = totalMs
    this.#startedAt = this.#lastActivity = clock.now()
    this.#timer = clock.setTimeout(() => this.#check(), Math.min(totalMs, idleMs))
  }

  /** The model (or a tool) did something: the idle budget starts again. */
  touch(): void {
    this.#lastActivity = this.#clock.now()
  }

  /** Stops the timer; call when the generation ends, however it ends. */
  clear(): void {
    this.#clock.clearTimeout(this.#timer)
  }

  /** The 504 a client sees for the budget that ran out; null while none did. */
  problem(): HttpProblem | null {
    if (this.#expired === null) return null
    return problems.gatewayTimeout(
      this.#expired === 'idle' ? `The model sent nothing for ${this.#idleMs} ms` : `The reply took longer than ${this.#totalMs} ms`,
    )
  }

  #check(): void {
    const now = this.#clock.now()
    const totalLeft = this.#totalMs - (now - this.#startedAt)
    const idleLeft = this.#idleMs - (now - this.#lastActivity)
    if (totalLeft > 0 && idleLeft > 0) {
      this.#timer = this.#clock.setTimeout(() => this.#check(), Math.min(totalLeft, idleLeft))
      return
    }
    this.#expired = totalLeft > 0 ? 'idle' : 'total'
    this.#job.stop('timeout')
  }
}
