import type { HealthCheck } from '../kernel/health.ts'

/** Chat completion as a stream of events, whatever the backend. */

export interface ToolCall {
  /** Provider-assigned call id (`call_…`), echoed back in the tool result message. */
  id: string
  name: string
  /** The arguments as JSON text, exactly as the model produced them. */
  arguments: string
}

export type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; content: string; tool_call_id: string }

export interface ToolDefinition {
  name: string
  description: string
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>
}

export interface ChatRequest {
  messages: ChatMessage[]
  tools?: ToolDefinition[]
  model?: string
  temperature?: number
  maxTokens?: number
  topP?: number
  /** Up to four sequences where the model stops. */
  stop?: string[]
  /** OpenAI's `tool_choice`, passed to the upstream as given (the built-in ignores it). */
  toolChoice?: 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } }
  /** Cancels the upstream call; the iterator then ends by throwing an AbortError. */
  signal: AbortSignal
}

export interface Usage {
  promptTokens: number
  completionTokens: number
  totalTokens: number
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'other'

export type ProviderEvent =
  | { type: 'text'; delta: string }
  /** A complete tool call (argument deltas are assembled by the provider). */
  | { type: 'tool_call'; call: ToolCall }
  /** Always the last event of a successful stream. */
  | { type: 'finish'; reason: FinishReason; model: string; usage?: Usage }

export interface ChatProvider {
  readonly name: string
  readonly defaultModel: string
  stream(request: ChatRequest): AsyncIterable<ProviderEvent>
  /** Registered with `/health` as `ai_service`, when the provider has a remote dependency. */
  readonly health?: HealthCheck
}

export type ProviderErrorCode = 'rate_limited' | 'upstream_error' | 'bad_request' | 'timeout' | 'unavailable' | 'invalid_response'

/** A provider failure, safe to show a client (no upstream bodies or keys in `message`). */
export class ProviderError extends Error {
  readonly code: ProviderErrorCode
  /** The upstream HTTP status, when there was one. */
  readonly upstreamStatus?: number
  constructor(code: ProviderErrorCode, message: string, options?: { upstreamStatus?: number; cause?: unknown }) {
    super(message, { cause: options?.cause })
    this.name = 'ProviderError'
    this.code = code
    this.upstreamStatus = options?.upstreamStatus
  }
}
