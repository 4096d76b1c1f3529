import type { ExecutionContext, MiddlewareHandler } from 'hono'
import { getConnInfo, upgradeWebSocket } from 'hono/cloudflare-workers'
import pino from 'pino'
import { createApp, type App } from '../app.ts'
import { ConfigError, loadConfig } from '../config/index.ts'
import { buildDeps } from '../deps.ts'
import type { AppEnv } from '../env.ts'
import { announce } from './startup.ts'
import { unsupportedSettings } from './env-config.ts'

/** The `[assets]` binding of wrangler.toml: the files of `public/`. */
interface AssetsBinding {
  fetch(request: Request): Promise<Response>
}

/** Serves `public/` through the assets binding, inside the app so the widget gets the security headers. */
const assets: MiddlewareHandler<AppEnv> = async function workerAssets(c, next) {
  const binding = c.env.ASSETS as AssetsBinding | undefined
  if (!binding || (c.req.method !== 'GET' && c.req.method !== 'HEAD')) return next()
  const res = await binding.fetch(c.req.raw)
  if (res.status === 404) return next()
  // A fetched Response has immutable headers; a copy lets the header bag be applied.
  return new Response(res.body, res)
}

// Workers hand the environment to each request, so the app is built lazily, once per isolate.
let built: Promise<App> | undefined

async function build(env: Record<string, unknown>): Promise<App> {
  const config = await loadConfig({ env })
  const unsupported = unsupportedSettings(config, 'workers')
  if (unsupported.length > 0) throw new ConfigError(unsupported)
  // Workers have no stdout file descriptor: lines go to the console, which `wrangler tail` and Logpush read.
  const logger = pino({ level: config.server.log_level }, { write: (line: string) => console.log(line.trimEnd()) })
  const deps = buildDeps({
    config,
    logger,
    // The peer address on Workers is the `cf-connecting-ip` header Cloudflare sets.
    peerAddress: (c) => getConnInfo(c).remote.address,
    serveStatic: assets,
    // The hub lives in this isolate: subscribers see messages persisted by requests the same isolate
    // serves (all of them under `wrangler dev`; a deployed Worker would need a Durable Object to fan out
    // across isolates). Workers fire no `onOpen`; the hub registers a client on its first event.
    upgradeWebSocket: config.server.websocket.enabled ? upgradeWebSocket : undefined,
  })
  // Workers have no stderr; console.error reaches `wrangler dev`'s output and `wrangler tail` at any log level.
  await announce(deps, { showKey: (line) => console.error(line) })
  deps.lifecycle.markReady()
  return createApp(deps)
}

export default {
  async fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext): Promise<Response> {
    built ??= build(env)
    let app: App
    try {
      app = await built
    } catch (error) {
      // A bad config cannot stop a Worker from starting: log it and answer every request with a 500 problem.
      console.error(error instanceof ConfigError ? `assistant-server: ${error.message}` : error)
      return misconfigured()
    }
    return app.fetch(request, env, ctx)
  },
}

function misconfigured(): Response {
  const requestId = crypto.randomUUID()
  const problem = { type: 'about:blank', title: 'Internal Server Error', status: 500, detail: 'The server is misconfigured', request_id: requestId }
  return new Response(JSON.stringify(problem), {
    status: 500,
    headers: { 'content-type': 'application/problem+json', 'x-request-id': requestId },
  })
}
