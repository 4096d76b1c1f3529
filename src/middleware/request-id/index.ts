import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../../env.ts'
import { requestState } from '../../http/request-state.ts'
import { asMiddleware, type Stage } from '../pipeline/index.ts'

export interface RequestIdOptions {
  /** Header read and echoed. Default `X-Request-ID`. */
  headerName?: string
  /** Makes a new id when the inbound one is missing or unacceptable. Default `crypto.randomUUID`. */
  generate?: () => string
}

/** At most 128 characters of `[A-Za-z0-9._-]`: safe in logs, headers and URLs. */
const ACCEPTABLE = /^[A-Za-z0-9._-]{1,128}$/

/** Accepts a well-formed inbound request id or makes one, and echoes it on every response. */
export function requestId(options: RequestIdOptions = {}): MiddlewareHandler<AppEnv> {
  return asMiddleware(requestIdStage(options))
}

export function requestIdStage(options: RequestIdOptions = {}): Stage {
  const headerName = options.headerName ?? 'X-Request-ID'
  const responseName = headerName.toLowerCase()
  const generate = options.generate ?? (() => crypto.randomUUID())
  return {
    name: 'requestId',
    before: (c) => {
      const inbound = c.req.raw.headers.get(responseName)
      const id = inbound !== null && ACCEPTABLE.test(inbound) ? inbound : generate()
      c.set('requestId', id)
      requestState(c).headers[responseName] = id
    },
  }
}
