import type { Logger } from 'pino'
import { ProviderError, type FinishReason, type ProviderEvent, type Usage } from '../ports.ts'
import { ToolCallAssembler, type ToolCallDelta } from './tool-calls.ts'

/**
 * Turns `chat.completion.chunk` payloads (one SSE `data:` each) into provider events; lenient on
 * input, strict on output. The `finish` event names the model the upstream's chunks name, else
 * `model` (the one the request asked for).
 */
export class ChunkParser {
  /** Set once `[DONE]` arrived. */
  done = false
  #model: string
  #finish: FinishReason | undefined
  #usage: Usage | undefined
  readonly #toolCalls = new ToolCallAssembler()
  readonly #logger: Pick<Logger, 'warn'> | undefined

  constructor(model: string, logger?: Pick<Logger, 'warn'>) {
    this.#model = model
    this.#logger = logger
  }

  /** Events for one payload, or undefined when it carried none. */
  accept(payload: string): ProviderEvent[] | undefined {
    if (payload.trim() === '[DONE]') {
      this.done = true
      return this.#final()
    }
    let chunk: unknown
    try {
      chunk = JSON.parse(payload)
    } catch {
      // A stray non-JSON line (a proxy banner, a keep-alive) is skipped rather than failing a reply.
      this.#logger?.warn({ length: payload.length }, 'skipped a non-JSON line in the AI stream')
      return undefined
    }
    if (!isObject(chunk)) return undefined
    if (chunk.error !== undefined && chunk.error !== null) {
      // Mid-stream errors (vLLM, LiteLLM, OpenRouter): the HTTP status was already 200.
      const status = isObject(chunk.error) && typeof chunk.error.code === 'number' ? chunk.error.code : undefined
      throw new ProviderError('upstream_error', 'The AI service failed while answering', { upstreamStatus: status })
    }
    if (typeof chunk.model === 'string' && chunk.model) this.#model = chunk.model
    if (isObject(chunk.usage)) this.#usage = usage(chunk.usage)

    const events: ProviderEvent[] = []
    const choice = Array.isArray(chunk.choices) ? chunk.choices.find((c) => isObject(c) && (c.index ?? 0) === 0) : undefined
    if (isObject(choice)) {
      const delta = isObject(choice.delta) ? choice.delta : {}
      if (typeof delta.content === 'string' && delta.content) events.push({ type: 'text', delta: delta.content })
      if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls) if (isObject(call)) this.#toolCalls.add(call as ToolCallDelta)
      if (typeof choice.finish_reason === 'string' && choice.finish_reason) {
        this.#finish = finishReason(choice.finish_reason)
        events.push(...this.#flushToolCalls())
      }
    }
    return events.length > 0 ? events : undefined
  }

  /** At the end of the body without `[DONE]`: the final events if the reply was complete. */
  close(): ProviderEvent[] | undefined {
    if (this.#finish === undefined) return undefined
    return this.#final()
  }

  #flushToolCalls(): ProviderEvent[] {
    return this.#toolCalls.flush().map((call) => ({ type: 'tool_call', call }))
  }

  #final(): ProviderEvent[] {
    const events = this.#flushToolCalls()
    const reason = this.#finish ?? 'stop'
    events.push(this.#usage ? { type: 'finish', reason, model: this.#model, usage: this.#usage } : { type: 'finish', reason, model: this.#model })
    return events
  }
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0
}

function usage(wire: Record<string, unknown>): Usage {
  const promptTokens = count(wire.prompt_tokens)
  const completionTokens = count(wire.completion_tokens)
  const total = count(wire.total_tokens)
  return { promptTokens, completionTokens, totalTokens: total || promptTokens + completionTokens }
}

function finishReason(wire: string): FinishReason {
  switch (wire) {
    case 'stop':
    case 'length':
    case 'tool_calls':
    case 'content_filter':
      return wire
    case 'function_call':
      return 'tool_calls'
    default:
      return 'other'
  }
}
