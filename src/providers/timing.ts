import type { Clock } from '../kernel/clock.ts'

/** The error a cancelled stream ends with, per the `ChatRequest.signal` contract. */
export function abortError(): DOMException {
  return new DOMException('The operation was aborted', 'AbortError')
}

/**
 * Resolves after `ms` on `clock`, or rejects with an AbortError as soon as `signal` aborts; leaves no
 * timer behind. A wait of 0 or less resolves without a timer.
 */
export function sleep(ms: number, signal: AbortSignal, clock: Clock): Promise<void> {
  if (signal.aborted) return Promise.reject(abortError())
  if (ms <= 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer)
      reject(abortError())
    }
    const timer = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
