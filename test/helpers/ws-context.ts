import { WSContext } from 'hono/ws'

/**
 * A `WSContext` as a runtime without a ping API presents it (Deno, Workers), plus `ws`'s
 * `terminate()`: what the hub sends and closes is recorded, in-process.
 */
export function fakeSocket() {
  const sent: Record<string, any>[] = []
  const closes: [number | undefined, string | undefined][] = []
  const raw = { bufferedAmount: 0, terminated: false, terminate: () => void (raw.terminated = true) }
  const ws = new WSContext({
    send: (data) => void sent.push(JSON.parse(String(data))),
    close: (code, reason) => void closes.push([code, reason]),
    raw,
    readyState: 1,
  })
  return { ws, raw, sent, closes }
}
