import { Hono, type Context, type MiddlewareHandler } from 'hono'
import type { UpgradeWebSocket } from 'hono/ws'
import type { AppEnv } from '../../env.ts'
import { HttpProblem, problems } from '../../kernel/problem.ts'
import { auth, type Authenticator } from '../../middleware/auth/index.ts'
import type { Hub } from './hub.ts'

export interface WsRoutesOptions {
  /** The runtime's helper: `@hono/node-server`, `hono/bun`, `hono/deno` or `hono/cloudflare-workers`. */
  upgradeWebSocket: UpgradeWebSocket<any>
  hub: Hub
  authenticator: Authenticator
  /**
   * Browser origins allowed to connect (`server.cors.allowed_origins`; `*` allows any). A request
   * without `Origin` (not a browser) and a same-origin request are always allowed.
   */
  allowedOrigins: readonly string[]
  /** Default `/ws`. */
  path?: string
}

/**
 * `GET /ws`: checks the origin and the API key (`Authorization: Bearer` or `?token=`, since browsers
 * cannot set headers on an upgrade) and refuses with a 401/403 problem before upgrading; an
 * authenticated non-upgrade request gets 426. Mount at the root: `app.route('/', wsRoutes(...))`.
 */
export function wsRoutes(options: WsRoutesOptions) {
  const { upgradeWebSocket, hub, path = '/ws' } = options
  return new Hono<AppEnv>().get(
    path,
    originGuard(options.allowedOrigins),
    // The access log redacts `token`, so the key in the query is never logged.
    auth({ authenticator: options.authenticator, allowQueryToken: true }),
    upgradeOnly,
    upgradeWebSocket((c) => hub.connect((c as Context<AppEnv>).var.user)),
  )
}

function originGuard(allowedOrigins: readonly string[]): MiddlewareHandler<AppEnv> {
  const anyOrigin = allowedOrigins.includes('*')
  const allowed = new Set(allowedOrigins.map((origin) => origin.toLowerCase()))
  return async function wsOriginGuard(c, next) {
    const origin = c.req.raw.headers.get('origin')
    if (origin !== null && !anyOrigin && !allowed.has(origin.toLowerCase()) && origin !== new URL(c.req.url).origin) {
      throw problems.forbidden('This origin may not open a WebSocket')
    }
    await next()
  }
}

/** RFC 6455 §4.1: a handshake says `Upgrade: websocket` and names `Upgrade` in `Connection`. */
function isHandshake(headers: Headers): boolean {
  if (headers.get('upgrade')?.toLowerCase() !== 'websocket') return false
  return (headers.get('connection') ?? '').split(',').some((token) => token.trim().toLowerCase() === 'upgrade')
}

const upgradeOnly: MiddlewareHandler<AppEnv> = async function wsUpgradeOnly(c, next) {
  if (!isHandshake(c.req.raw.headers)) {
    throw new HttpProblem(426, {
      title: 'Upgrade Required',
      detail: 'This endpoint speaks WebSocket only',
      headers: { upgrade: 'websocket', connection: 'Upgrade' },
    })
  }
  await next()
}
