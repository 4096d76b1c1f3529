/** A dependency probe; it should honour `signal` and throw (or reject) when the dependency is down. */
export interface HealthCheck {
  name: string
  check: (signal: AbortSignal) => Promise<void>
  /** Default 5 s. */
  timeoutMs?: number
  /** Whether a failure makes the server not ready (default true). */
  critical?: boolean
}
