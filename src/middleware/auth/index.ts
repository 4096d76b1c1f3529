import type { Context, MiddlewareHandler } from 'hono'
import type { AppEnv, Principal } from '../../env.ts'
import { asMiddleware, type Stage } from '../pipeline/index.ts'
import { problems } from '../../kernel/problem.ts'
import type { Authenticator } from './authenticator.ts'

export { Authenticator, bearerToken, type AuthSettings } from './authenticator.ts'

export interface AuthOptions {
  authenticator: Authenticator
  /** Also accept `?token=` (WebSocket upgrades from browsers cannot set headers). Default false. */
  allowQueryToken?: boolean
}

/** Requires a valid API key and puts the principal on `c.var.user`; 401 problem otherwise. */
export function auth(options: AuthOptions): MiddlewareHandler<AppEnv> {
  return asMiddleware(authStage(options))
}

export function authStage(options: AuthOptions): Stage {
  const { authenticator, allowQueryToken = false } = options
  const admit = (c: Context<AppEnv>, principal: Principal | null): void | Promise<void> => {
    if (!principal && allowQueryToken) {
      const token = c.req.query('token')
      if (token) return authenticator.verifyKey(token).then((fromQuery) => admitOrRefuse(c, fromQuery))
    }
    return admitOrRefuse(c, principal)
  }
  const admitOrRefuse = (c: Context<AppEnv>, principal: Principal | null): void => {
    if (!principal) {
      throw problems.unauthorized(
        c.req.raw.headers.has('authorization') ? 'The API key is not valid' : 'Send an API key as Authorization: Bearer <key>',
      )
    }
    c.set('user', principal)
  }
  return {
    name: 'auth',
    // A key seen before is answered from the cache without a promise.
    before: (c) => {
      // Already verified by the rate limiter, which limits by principal.
      if (c.get('user') !== undefined) return
      const authorization = c.req.raw.headers.get('authorization')
      const known = authenticator.cached(authorization)
      if (known !== undefined) return admit(c, known)
      return authenticator.verify(authorization).then((principal) => admit(c, principal))
    },
  }
}
