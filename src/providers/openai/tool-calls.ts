import { ProviderError, type ToolCall } from '../ports.ts'

/** One entry of a chunk's `delta.tool_calls`: the first for a call names it, later ones add argument text. */
export interface ToolCallDelta {
  index?: number
  id?: string
  function?: { name?: string; arguments?: string }
}

interface Pending {
  id: string
  name: string
  arguments: string
}

/**
 * Assembles streamed tool-call deltas into whole calls. Deltas are keyed by `index` (parallel calls
 * interleave); a delta without one starts the next call. Calls come out in index order.
 */
export class ToolCallAssembler {
  readonly #pending = new Map<number, Pending>()

  add(delta: ToolCallDelta): void {
    const index = typeof delta.index === 'number' ? delta.index : this.#pending.size
    let pending = this.#pending.get(index)
    if (!pending) {
      pending = { id: '', name: '', arguments: '' }
      this.#pending.set(index, pending)
    }
    if (typeof delta.id === 'string' && delta.id) pending.id = delta.id
    if (typeof delta.function?.name === 'string') pending.name += delta.function.name
    if (typeof delta.function?.arguments === 'string') pending.arguments += delta.function.arguments
  }

  /** The calls assembled so far, and forgets them. A call without a name is an invalid response. */
  flush(): ToolCall[] {
    const ordered = [...this.#pending.entries()].sort((a, b) => a[0] - b[0])
    this.#pending.clear()
    return ordered.map(([index, pending]) => {
      if (!pending.name) throw new ProviderError('invalid_response', 'The AI service sent a tool call without a name')
      return { id: pending.id || `call_${index}`, name: pending.name, arguments: pending.arguments || '{}' }
    })
  }
}
