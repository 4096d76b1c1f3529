import type { Logger } from 'pino'
import type { Clock } from '../../kernel/clock.ts'
import type { ProviderError } from '../ports.ts'
import { abortError, sleep } from '../timing.ts'

/** A failure worth another attempt (429, 5xx, a connection that failed or broke), with the server's `Retry-After`. */
export class RetryableError extends Error {
  readonly failure: ProviderError
  readonly retryAfterMs: number | undefined
  constructor(failure: ProviderError, retryAfterMs?: number) {
    super(failure.message)
    this.failure = failure
    this.retryAfterMs = retryAfterMs
  }
}

export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number
  /** First backoff step; doubles per attempt, with jitter, capped at 8 s. */
  retryBaseMs: number
  /** A `Retry-After` longer than this is not waited for: the failure goes to the caller. */
  maxRetryAfterMs: number
  /** Jitter source in [0, 1). */
  random: () => number
  clock: Clock
  logger?: Pick<Logger, 'debug'>
}

const MAX_BACKOFF_MS = 8_000

/** The wait before retry number `attempt + 1`: the server's `Retry-After` if it sent one, else half fixed, half jittered. */
export function backoffMs(attempt: number, retryAfterMs: number | undefined, policy: Pick<RetryPolicy, 'retryBaseMs' | 'random'>): number {
  if (retryAfterMs !== undefined) return retryAfterMs
  const ceiling = Math.min(MAX_BACKOFF_MS, policy.retryBaseMs * 2 ** attempt)
  return Math.round(ceiling / 2 + policy.random() * (ceiling / 2))
}

/**
 * Yields the events of `attempt()`, calling it again after a backoff when it fails with a
 * `RetryableError` before its first event. Once the caller has seen output a second attempt would
 * duplicate it, so from then on every failure goes to the caller. An abort of `signal` ends it with
 * an AbortError, also while waiting.
 */
export async function* withRetries<E>(attempt: () => AsyncIterable<E>, signal: AbortSignal, policy: RetryPolicy): AsyncGenerator<E> {
  let yielded = false
  for (let tries = 0; ; tries++) {
    if (signal.aborted) throw abortError()
    let failure: RetryableError
    try {
      for await (const event of attempt()) {
        yielded = true
        yield event
      }
      return
    } catch (error) {
      if (signal.aborted) throw abortError()
      if (!(error instanceof RetryableError)) throw error
      failure = error
    }
    const { retryAfterMs } = failure
    if (yielded || tries >= policy.maxRetries || (retryAfterMs !== undefined && retryAfterMs > policy.maxRetryAfterMs)) throw failure.failure
    const delay = backoffMs(tries, retryAfterMs, policy)
    policy.logger?.debug(
      { attempt: tries + 1, delay_ms: delay, code: failure.failure.code, status: failure.failure.upstreamStatus },
      'retrying AI request',
    )
    await sleep(delay, signal, policy.clock)
  }
}

/** `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}
