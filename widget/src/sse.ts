export interface SseFrame {
  event: string
  id: string | null
  data: string
}

/**
 * Reads a text/event-stream body (WHATWG HTML §9.2) and calls `onFrame` per event; comments
 * (heartbeats) are skipped. Resolves when the body ends; rejects when the connection breaks.
 */
export async function readEvents(body: ReadableStream<Uint8Array>, onFrame: (frame: SseFrame) => void): Promise<void> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n')
    let end
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const frame: SseFrame = { event: 'message', id: null, data: '' }
      let hasData = false
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon === -1 ? line : line.slice(0, colon)
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'event') frame.event = value
        else if (field === 'id') frame.id = value
        else if (field === 'data') {
          frame.data += (hasData ? '\n' : '') + value
          hasData = true
        }
      }
      if (hasData) onFrame(frame)
    }
  }
}
