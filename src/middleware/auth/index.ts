import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../../env.ts'
import { problems } from '../../errors/problem.ts'
import type { Authenticator } from './authenticator.ts'

export { Authenticator, bearerToken, type AuthSettings } from './authenticator.ts'

export interface AuthOptions {
  authenticator: Authenticator
  /** Also accept `?token=` (WebSocket upgrades from browsers cannot set headers). Default false. */
  allowQueryToken?: boolean
}

/** Requires a valid API key and puts the principal on `c.var.user`; 401 problem otherwise. */
export function auth(options: AuthOptions): MiddlewareHandler<AppEnv> {
  const { authenticator, allowQueryToken = false } = options
  return async function authMiddleware(c, next) {
    const authorization = c.req.raw.headers.get('authorization')
    const known = authenticator.cached(authorization)
    let principal = known !== undefined ? known : await authenticator.verify(authorization)
    if (!principal && allowQueryToken) {
      const token = c.req.query('token')
      if (token) principal = await authenticator.verifyKey(token)
    }
    if (!principal) {
      throw problems.unauthorized(
        c.req.raw.headers.has('authorization') ? 'The API key is not valid' : 'Send an API key as Authorization: Bearer <key>',
      )
    }
    c.set('user', principal)
    await next()
  }
}
