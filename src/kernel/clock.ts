/** An opaque handle for a timer a `Clock` started. */
export type TimerHandle = { readonly __timer: unique symbol } | object

export interface TimerOptions {
  /** The timer does not keep a process alive on its own (Node, Bun). Default false. */
  unref?: boolean
}

/**
 * Wall-clock time and timers, injected everywhere time matters, so tests drive time with a
 * `ManualClock` instead of sleeping. Durations that are only measured (log lines, metrics) use
 * `performance.now()`; anything that decides behaviour goes through a Clock.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  setTimeout(callback: () => void, ms: number, options?: TimerOptions): TimerHandle
  clearTimeout(handle: TimerHandle | undefined): void
  setInterval(callback: () => void, ms: number, options?: TimerOptions): TimerHandle
  clearInterval(handle: TimerHandle | undefined): void
}

/** Deno's timers are numbers and have no `unref`; Node's and Bun's are objects that do. */
function unref(timer: unknown): void {
  ;(timer as { unref?: () => void } | undefined)?.unref?.()
}

/** The runtime's own clock and timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms, options) {
    const timer = setTimeout(callback, ms)
    if (options?.unref) unref(timer)
    return timer as unknown as TimerHandle
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout> | undefined),
  setInterval(callback, ms, options) {
    const timer = setInterval(callback, ms)
    if (options?.unref) unref(timer)
    return timer as unknown as TimerHandle
  },
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval> | undefined),
}

interface Scheduled {
  at: number
  order: number
  callback: () => void
  /** Repeat period for intervals. */
  every: number | undefined
}

/**
 * A clock that moves only when told: `advance(ms)` fires every timer due on the way, in order of due
 * time (then of creation), letting promise callbacks run between timers. For tests.
 */
export class ManualClock implements Clock {
  #now: number
  #order = 0
  readonly #timers = new Map<object, Scheduled>()

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  /** Timers scheduled and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    return this.#schedule(callback, ms, undefined)
  }

  setInterval(callback: () => void, ms: number): TimerHandle {
    return this.#schedule(callback, ms, Math.max(1, ms))
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) this.#timers.delete(handle)
  }

  clearInterval(handle: TimerHandle | undefined): void {
    if (handle) this.#timers.delete(handle)
  }

  /** Moves time forward by `ms`, firing due timers; awaits pending promise callbacks between them. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms
    await settle()
    for (;;) {
      const next = this.#nextDue(target)
      if (!next) break
      const [handle, timer] = next
      this.#now = Math.max(this.#now, timer.at)
      if (timer.every === undefined) this.#timers.delete(handle)
      else timer.at += timer.every
      timer.callback()
      await settle()
    }
    this.#now = target
    await settle()
  }

  #schedule(callback: () => void, ms: number, every: number | undefined): TimerHandle {
    const handle = {} as TimerHandle
    this.#timers.set(handle, { at: this.#now + Math.max(0, ms), order: this.#order++, callback, every })
    return handle
  }

  #nextDue(limit: number): [object, Scheduled] | undefined {
    let best: [object, Scheduled] | undefined
    for (const entry of this.#timers) {
      const timer = entry[1]
      if (timer.at > limit) continue
      if (!best || timer.at < best[1].at || (timer.at === best[1].at && timer.order < best[1].order)) best = entry
    }
    return best
  }
}

/** Lets already-queued promise callbacks (and the ones they queue, a few levels deep) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve()
}

/** What a reader of the time alone needs (stores, timestamps): any `Clock` is one. */
export type WallClock = Pick<Clock, 'now'>
