import { connect, type Socket } from 'node:net'

export interface RawAnswer {
  /** Everything the server sent before the socket closed or `waitMs` passed. */
  text: string
  status: number
  /** Whether the server closed the connection before a whole answer came (or `waitMs` passed). */
  closed: boolean
}

/** Writes `request` verbatim to 127.0.0.1:`port` and collects the answer for at most `waitMs`. */
export function rawExchange(port: number, request: string, waitMs = 2000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1')
    let text = ''
    let closed = false
    const finish = () => {
      clearTimeout(timer)
      socket.destroy()
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0)
      resolve({ text, status, closed })
    }
    const timer = setTimeout(finish, waitMs)
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      text += chunk
      if (complete(text)) finish()
    })
    socket.once('end', () => ((closed = true), finish()))
    socket.once('error', (error) => (text ? finish() : (clearTimeout(timer), reject(error))))
    socket.write(request)
  })
}

/** Whether `text` holds a whole response with a Content-Length (no need to wait for the close). */
function complete(text: string): boolean {
  const end = text.indexOf('\r\n\r\n')
  if (end === -1) return false
  const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))
  return length !== null && text.length - end - 4 >= Number(length[1])
}

/** The JSON body of a raw answer (after the blank line). */
export function rawBody(answer: RawAnswer): any {
  return JSON.parse(answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4))
}
