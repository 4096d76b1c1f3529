import type { AppDeps } from '../deps.ts'

export interface AnnounceOptions {
  /**
   * Where the generated development key is shown besides the log, whatever the log level (a server
   * whose only key is hidden cannot be used): stderr for processes, the console on Workers.
   */
  showKey?: (line: string) => void
}

/**
 * What every entrypoint says once at start: a generated development key when none is configured
 * (never silently open), and an explicit warning when authentication is off.
 */
export async function announce(deps: AppDeps, options: AnnounceOptions = {}): Promise<void> {
  const { authenticator, logger } = deps
  if (!deps.stores.persistent) {
    logger.warn('conversations and memory are kept in process memory and are LOST on restart: set MONGODB_URI (and optionally MONGODB_DB) to store them in MongoDB')
  }
  if (authenticator.mode === 'none') {
    logger.warn('authentication is OFF (auth.mode: none): every client can read and change all data')
    return
  }
  if (authenticator.keyCount === 0) {
    const key = await authenticator.generateKey('dev')
    const line = `no API keys configured: generated a development key for this run (user "dev"): ${key} (set API_KEYS to choose your own)`
    logger.warn(line)
    options.showKey?.(`assistant-server: ${line}`)
  }
}
