/**
 * Splits a byte stream into SSE `data:` payloads, one per `data:` line.
 *
 * OpenAI-compatible servers put one JSON document on each `data:` line. Treating every line as its own
 * payload (instead of joining consecutive `data:` lines as the WHATWG parser does) also copes with the
 * backends that forget the blank line between events. Comments (`:`), `event:`, `id:` and `retry:`
 * lines are ignored. Lines may be split anywhere across network chunks, including inside a UTF-8
 * sequence: the decoder keeps the partial bytes (`stream: true`).
 */
export class SseLineDecoder {
  readonly #decoder = new TextDecoder('utf-8')
  #buffer = ''

  /** The payloads completed by this chunk. */
  push(chunk: Uint8Array): string[] {
    this.#buffer += this.#decoder.decode(chunk, { stream: true })
    return this.#drain(false)
  }

  /** The payload of a last line that had no line ending, if any. */
  end(): string[] {
    this.#buffer += this.#decoder.decode()
    return this.#drain(true)
  }

  #drain(final: boolean): string[] {
    const payloads: string[] = []
    let start = 0
    const buffer = this.#buffer
    for (let i = 0; i < buffer.length; i++) {
      const ch = buffer.charCodeAt(i)
      if (ch !== 10 && ch !== 13) continue
      // A CR at the very end may be the first half of CRLF: wait for the next chunk.
      if (ch === 13 && i === buffer.length - 1 && !final) break
      pushPayload(payloads, buffer.slice(start, i))
      if (ch === 13 && buffer.charCodeAt(i + 1) === 10) i++
      start = i + 1
    }
    this.#buffer = buffer.slice(start)
    if (final && this.#buffer) {
      pushPayload(payloads, this.#buffer)
      this.#buffer = ''
    }
    return payloads
  }
}

function pushPayload(payloads: string[], line: string): void {
  if (!line.startsWith('data:')) return
  payloads.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5))
}
