import type { Logger } from 'pino'

/** Something to close after the servers have drained: a store, the tracing exporter, a pool. */
export type Closer = { name: string; close: () => Promise<void> | void }

export interface ShutdownOptions {
  logger: Logger
  /** Called first, so `/ready` turns 503 while the servers drain. */
  markDraining: () => void
  /** Drains each server within the deadline (see `StartedServer.drain`). */
  servers: { drain: (deadlineMs: number) => Promise<boolean> }[]
  /** Budget for in-flight requests (`server.shutdown_timeout`). */
  timeoutMs: number
  /** Run in order after the servers have drained; each gets what is left of the budget (at least 1 s). */
  onClose: Closer[]
  /** Default `process.exit`. */
  exit?: (code: number) => void
}

/**
 * The one graceful close: mark draining, stop accepting and drain the servers, run the closers,
 * flush the logs, exit. Calling it again (a second signal) forces an immediate exit.
 * Returns the function to call with the reason and the exit code.
 */
export function gracefulShutdown(options: ShutdownOptions): (reason: string, code?: number) => Promise<void> {
  const { logger, servers, timeoutMs, onClose } = options
  const exit = options.exit ?? ((code: number) => process.exit(code))
  let started = false

  return async function shutdown(reason, code = 0) {
    if (started) {
      logger.warn({ reason }, 'second shutdown request: exiting now')
      await flushLogs(logger)
      exit(code === 0 ? 1 : code)
      return
    }
    started = true
    const deadline = Date.now() + timeoutMs
    logger.info({ reason, timeout_ms: timeoutMs }, 'shutting down: draining requests')
    options.markDraining()

    const drained = await Promise.all(servers.map((server) => server.drain(timeoutMs)))
    if (drained.includes(false)) logger.warn('shutdown deadline reached: remaining connections were closed')

    for (const closer of onClose) {
      const budget = Math.max(1000, deadline - Date.now())
      try {
        await withTimeout(Promise.resolve(closer.close()), budget)
      } catch (error) {
        logger.error({ err: error, closer: closer.name }, 'close failed')
      }
    }
    logger.info({ code }, 'stopped')
    await flushLogs(logger)
    exit(code)
  }
}

/** Flushes buffered log lines; bounded, because a destination that cannot write must not hold the exit. */
function flushLogs(logger: Logger): Promise<void> {
  return withTimeout(new Promise<void>((resolve) => logger.flush(() => resolve())), 2000).catch(() => {})
}

/** Waits for `done` at most `deadlineMs`; true when it settled in time (a rejection passes through). */
export async function settledWithin(done: Promise<unknown>, deadlineMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<false>((wake) => (timer = setTimeout(() => wake(false), deadlineMs)))
  try {
    return await Promise.race([done.then(() => true as const), late])
  } finally {
    clearTimeout(timer)
  }
}

async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  if (!(await settledWithin(promise, ms))) throw new Error(`did not close within ${ms} ms`)
}

/**
 * SIGTERM/SIGINT start the graceful close (a second one forces it); an uncaught exception is logged
 * and closes the process with exit code 1; an unhandled rejection is logged and the process keeps serving.
 */
export function installProcessHandlers(logger: Logger, shutdown: (reason: string, code?: number) => Promise<void>): void {
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception')
    void shutdown('uncaughtException', 1)
  })
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection')
  })
}
