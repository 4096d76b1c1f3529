import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'

/** Headers that describe the connection or the handshake, not the app's answer; the writer sends its own. */
const CONNECTION_HEADERS = new Set([
  'connection',
  'content-length',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'sec-websocket-accept',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
])

/** The app's response headers as raw `name: value` lines for a handshake or a refusal. */
export function upgradeHeaderLines(headers: Headers | undefined, lines: string[] = []): string[] {
  headers?.forEach((value, name) => {
    if (!CONNECTION_HEADERS.has(name)) lines.push(`${name}: ${value}`)
  })
  return lines
}

/** Answers a refused upgrade with the app's whole response (status, headers and body) and closes the socket. */
export async function writeRefusal(socket: Duplex, response: Response | undefined, status = response?.status ?? 500): Promise<void> {
  const body = response ? Buffer.from(await response.arrayBuffer()) : Buffer.alloc(0)
  if (socket.destroyed) return
  const head = upgradeHeaderLines(response?.headers, [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, 'Connection: close', `Content-Length: ${body.length}`])
  socket.end(Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), body]))
}

