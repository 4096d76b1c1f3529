// The app's access line for the bare Hono servers' BENCH_ACCESS_LOG variant: one line per request
// through the app's own logger (pino at info into LogSink, the app's stdout), with the app's fields
// and the two reads it makes of the request (peer address, User-Agent). With the app's headers, it
// is what any server sending those headers and writing that log costs before the rest of the chain.
import type { Context } from 'hono'
import { getRuntimeKey } from 'hono/adapter'
import { utf8Length } from '../../src/pipeline/end.ts'
import { processLogger } from '../../src/runtimes/process.ts'

type PeerAddress = (c: Context) => string | undefined

/** The peer address as the app's entrypoint for this runtime reads it. */
async function peerAddress(): Promise<PeerAddress> {
  const runtime = getRuntimeKey()
  const { getConnInfo } = runtime === 'bun' ? await import('hono/bun') : runtime === 'deno' ? await import('hono/deno') : await import('@hono/node-server/conninfo')
  return (c) => getConnInfo(c).remote.address
}

/** A function writing one request's access line, as the access-log middleware words it. */
export async function accessLine(route: string): Promise<(c: Context, requestId: string, status: number, body: string, startedAt: number) => void> {
  const peer = await peerAddress()
  const child = processLogger('info').child({ method: 'GET', route })
  return (c, requestId, status, body, startedAt) => {
    // pino leaves out undefined values, as the middleware leaves out an unknown ip or user_agent.
    child.info(
      {
        request_id: requestId,
        path: c.req.path,
        status,
        bytes: utf8Length(body),
        duration_ms: Math.round((performance.now() - startedAt) * 1000) / 1000,
        ip: peer(c),
        user_agent: c.req.header('user-agent'),
      },
      'request completed',
    )
  }
}
