import { defineMiddleware, type StageMiddleware } from '../../pipeline/index.ts'

export interface RequestIdOptions {
  /** Header read and echoed. Default `X-Request-ID`. */
  headerName?: string
  /** Makes a new id when the inbound one is missing or unacceptable. Default `crypto.randomUUID`. */
  generate?: () => string
}

/** At most 128 characters of `[A-Za-z0-9._-]`: safe in logs, headers and URLs. */
const ACCEPTABLE = /^[A-Za-z0-9._-]{1,128}$/

/** Accepts a well-formed inbound request id or makes one, puts it on `c.var.requestId` and echoes it on every response. */
export function requestId(options: RequestIdOptions = {}): StageMiddleware {
  const name = (options.headerName ?? 'X-Request-ID').toLowerCase()
  const generate = options.generate ?? (() => crypto.randomUUID())
  return defineMiddleware({
    name: 'requestId',
    before: (c, scope) => {
      const inbound = c.req.raw.headers.get(name)
      const id = inbound !== null && ACCEPTABLE.test(inbound) ? inbound : generate()
      c.set('requestId', id)
      scope.header(name, id)
    },
  })
}
