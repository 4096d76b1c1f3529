import { ConfigError, type Config } from '../config/index.ts'

export type RuntimeName = 'node' | 'bun' | 'deno' | 'workers'

/**
 * Settings a runtime's entrypoint cannot honour, as problems naming the key and its env variable.
 * Entrypoints refuse to start (or, on Workers, to serve) with them rather than silently ignore them:
 * a plaintext server where TLS was asked for, or data kept in isolate memory where MongoDB was, is worse
 * than a clear error.
 */
export function unsupportedSettings(config: Config, runtime: RuntimeName): string[] {
  if (runtime === 'node') return []
  const { server } = config
  const problems: string[] = []
  const elsewhere = runtime === 'workers' ? 'Cloudflare terminates TLS and HTTP/2 in front of Workers' : 'serve TLS and HTTP/2 with the Node entrypoint or a proxy'
  if (server.tls.enabled) problems.push(`server.tls.enabled (env TLS_ENABLED): not supported on ${runtime}; ${elsewhere}`)
  if (server.enable_http2) problems.push(`server.enable_http2 (env ENABLE_HTTP2): not supported on ${runtime}; ${elsewhere}`)
  if (server.metrics.enabled && server.metrics.port !== 0) {
    problems.push(`server.metrics.port (env METRICS_PORT): a separate metrics port is Node-only; use 0 to serve ${server.metrics.path} on the main port`)
  }
  if (runtime === 'workers' && config.mongodb.uri) {
    problems.push('mongodb.uri (env MONGODB_URI): MongoDB is not available on Workers (the driver needs raw TCP sockets); run on Node, Bun or Deno')
  }
  if (runtime === 'workers' && config.redis.url) {
    problems.push('redis.url (env REDIS_URL): Workers keep jobs, stop, fan-out and rate limits per isolate (Durable Objects come later); run several instances on Node, Bun or Deno')
  }
  return problems
}

/** For process entrypoints (Bun, Deno): print the unsupported settings like any config error and exit 2. */
export function exitOnUnsupported(config: Config, runtime: RuntimeName): void {
  const problems = unsupportedSettings(config, runtime)
  if (problems.length === 0) return
  process.stderr.write(`assistant-server: ${new ConfigError(problems).message}\n`)
  process.exit(2)
}
