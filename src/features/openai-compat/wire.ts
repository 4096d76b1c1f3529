import type { ToolCall, Usage } from '../../providers/ports.ts'
import type { Completion, CompletionFinish } from './completion.ts'

/** Identity every chunk of one completion repeats: same `id`, `created` and `model` throughout. */
export interface CompletionIdentity {
  id: string
  /** Unix seconds. */
  created: number
  model: string
}

function usageJson(usage: Usage) {
  return { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.totalTokens }
}

function toolCallJson(call: ToolCall) {
  return { id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }
}

/** The non-streaming `chat.completion` object. */
export function completionJson(identity: CompletionIdentity, completion: Completion) {
  const calls = completion.toolCalls
  const message = {
    role: 'assistant',
    content: completion.text === '' && calls.length > 0 ? null : completion.text,
    refusal: null,
    ...(calls.length > 0 ? { tool_calls: calls.map(toolCallJson) } : {}),
  }
  return {
    id: identity.id,
    object: 'chat.completion',
    created: identity.created,
    model: completion.model,
    system_fingerprint: null,
    choices: [{ index: 0, message, logprobs: null, finish_reason: completion.finishReason }],
    usage: usageJson(completion.usage),
  }
}

/**
 * `chat.completion.chunk` frames (`data: …\n\n`) of one streamed completion. The head of each
 * chunk's JSON is built once; only the choice differs from chunk to chunk.
 */
export class ChunkFrames {
  readonly #head: string

  constructor(identity: CompletionIdentity) {
    this.#head = `data: {"id":${JSON.stringify(identity.id)},"object":"chat.completion.chunk","created":${identity.created},"model":${JSON.stringify(identity.model)},"system_fingerprint":null,"choices":`
  }

  #choice(delta: Record<string, unknown>, finish: CompletionFinish | null): string {
    return `${this.#head}[{"index":0,"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":${finish === null ? 'null' : `"${finish}"`}}]}\n\n`
  }

  /** The first chunk: it carries the role. */
  role(): string {
    return this.#choice({ role: 'assistant', content: '' }, null)
  }

  text(delta: string): string {
    return this.#choice({ content: delta }, null)
  }

  /**
   * One call as clients' assemblers expect it: `id`, `type` and `function.name` in the first delta
   * only, then the arguments under the same `index`.
   */
  toolCall(index: number, call: ToolCall): string {
    const opening = this.#choice({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }, null)
    if (call.arguments === '') return opening
    return opening + this.#choice({ tool_calls: [{ index, function: { arguments: call.arguments } }] }, null)
  }

  finish(reason: CompletionFinish): string {
    return this.#choice({}, reason)
  }

  /** The one chunk with `usage`, with `choices: []` (`stream_options.include_usage`). */
  usage(usage: Usage): string {
    return `${this.#head}[],"usage":${JSON.stringify(usageJson(usage))}}\n\n`
  }
}

export const DONE_FRAME = 'data: [DONE]\n\n'

/** A failure after the stream began: one `data: {"error": …}` event; the stream then ends. */
export function errorFrame(error: unknown): string {
  return `data: ${JSON.stringify({ error })}\n\n`
}
