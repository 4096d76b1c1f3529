import type { Context } from 'hono'
import type { AppEnv, Principal } from '../../env.ts'
import { problems } from '../../kernel/problem.ts'
import { defineMiddleware, type StageMiddleware } from '../../pipeline/index.ts'
import type { Authenticator } from './authenticator.ts'

export { Authenticator, bearerToken, type AuthSettings } from './authenticator.ts'

export interface AuthOptions {
  authenticator: Authenticator
  /** Also accept `?token=` (WebSocket upgrades from browsers cannot set headers). Default false. */
  allowQueryToken?: boolean
}

/** Requires a valid API key (`Authorization: Bearer`, or `?token=` where allowed) and puts the principal on `c.var.user`; 401 problem otherwise. */
export function auth(options: AuthOptions): StageMiddleware {
  const { authenticator, allowQueryToken = false } = options
  const how = allowQueryToken ? 'Send an API key as Authorization: Bearer <key> or ?token=<key>' : 'Send an API key as Authorization: Bearer <key>'
  const refuse = (c: Context<AppEnv>, presented: boolean): never => {
    throw problems.unauthorized(presented || c.req.raw.headers.has('authorization') ? 'The API key is not valid' : how)
  }
  const admit = (c: Context<AppEnv>, principal: Principal | null): void | Promise<void> => {
    if (principal) {
      c.set('user', principal)
      return
    }
    const token = allowQueryToken && !c.req.raw.headers.has('authorization') ? c.req.query('token') : undefined
    if (!token) return refuse(c, false)
    return authenticator.verifyKey(token).then((fromQuery) => {
      if (!fromQuery) refuse(c, true)
      c.set('user', fromQuery!)
    })
  }
  return defineMiddleware({
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
  })
}
