import type { Context } from 'hono'
import type { AppEnv, Principal } from '../../env.ts'
import { problems } from '../../kernel/problem.ts'
import { defineMiddleware, type StageMiddleware } from '../../pipeline/index.ts'
import type { Authenticator } from './authenticator.ts'

export { Authenticator, bearerToken, type AuthSettings } from './authenticator.ts'

export interface AuthOptions {
  authenticator: Authenticator
}

/** Requires a valid API key and puts the principal on `c.var.user`; 401 problem otherwise. */
export function auth(options: AuthOptions): StageMiddleware {
  const { authenticator } = options
  const admit = (c: Context<AppEnv>, principal: Principal | null): void => {
    if (!principal) {
      throw problems.unauthorized(
        c.req.raw.headers.has('authorization') ? 'The API key is not valid' : 'Send an API key as Authorization: Bearer <key>',
      )
    }
    c.set('user', principal)
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
