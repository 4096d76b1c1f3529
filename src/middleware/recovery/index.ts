import type { Context, ErrorHandler, Hono, NotFoundHandler } from 'hono'
import { PatternRouter } from 'hono/router/pattern-router'
import type { Logger } from 'pino'
import type { AppEnv } from '../../env.ts'
import { toProblem } from '../../errors/problem.ts'
import { problem as problemResponse } from '../../pipeline/index.ts'
import { HttpProblem } from '../../kernel/problem.ts'

export interface RecoveryOptions {
  /** Used when the request failed before its own child logger existed. */
  logger: Logger
}

/**
 * The one error handler: every thrown value becomes an RFC 9457 problem carrying the request id.
 * Server errors are logged once with their stack; their bodies never carry the message.
 */
export function recovery(options: RecoveryOptions): ErrorHandler<AppEnv> {
  return function recoveryHandler(error, c) {
    const problem = toProblem(error)
    if (problem.status >= 500) {
      // The request's child logger already carries request_id; the fallback logger does not.
      const requestLogger = c.get('log')
      const cause = problem.cause ?? error
      const fields = { err: cause, method: c.req.method, path: c.req.path }
      if (requestLogger) requestLogger().error(fields, 'request failed')
      else options.logger.error({ ...fields, request_id: c.get('requestId') }, 'request failed')
    }
    return problemResponse(c, problem)
  }
}

/**
 * 404 for unknown paths, 405 with `Allow` when the path exists under other methods.
 * The method table is built on first use from the app's own routes.
 */
export function notFound(app: Hono<AppEnv, any, any>): NotFoundHandler<AppEnv> {
  let router: PatternRouter<string> | undefined
  let methods: string[] = []
  const allowed = (path: string): string[] => {
    if (!router) {
      router = new PatternRouter<string>()
      const seen = new Set<string>()
      for (const route of app.routes) {
        if (route.method === 'ALL') continue
        router.add(route.method, route.path, route.method)
        seen.add(route.method)
      }
      methods = [...seen]
    }
    const found = new Set<string>()
    for (const method of methods) {
      for (const [handler] of router.match(method, path)[0]) found.add(handler)
    }
    if (found.has('GET')) found.add('HEAD')
    return [...found]
  }
  return function notFoundHandler(c: Context<AppEnv>) {
    const allow = allowed(c.req.path)
    if (allow.length > 0 && !allow.includes(c.req.method)) {
      return problemResponse(
        c,
        new HttpProblem(405, {
          detail: `${c.req.method} is not allowed here; use ${allow.join(', ')}`,
          headers: { allow: allow.join(', ') },
        }),
      )
    }
    return problemResponse(c, new HttpProblem(404, { detail: `No route for ${c.req.method} ${c.req.path}` }))
  }
}
