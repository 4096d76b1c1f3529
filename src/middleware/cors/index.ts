import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../../env.ts'

export interface CorsOptions {
  allowed_origins: string[]
  allowed_methods: string[]
  allowed_headers: string[]
  exposed_headers: string[]
  allow_credentials: boolean
  max_age: number
}

// STUB (to be replaced).
export function cors(_options: CorsOptions): MiddlewareHandler<AppEnv> {
  return async function corsMiddleware(_c, next) {
    await next()
  }
}
