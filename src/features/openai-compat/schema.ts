import { z } from 'zod'
import type { ChatMessage, ChatRequest, ToolDefinition } from '../../providers/ports.ts'
import { invalidRequest } from './errors.ts'

/** A message's `content`: a string, or parts of which only text is understood here. */
const content = z.union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string().optional() }))]).nullable().optional()

const toolCall = z.looseObject({
  id: z.string().min(1).max(200),
  type: z.literal('function').optional(),
  function: z.looseObject({ name: z.string().min(1).max(64), arguments: z.string() }),
})

const message = z.discriminatedUnion('role', [
  z.looseObject({ role: z.enum(['system', 'developer', 'user']), content }),
  z.looseObject({ role: z.literal('assistant'), content, tool_calls: z.array(toolCall).max(128).nullable().optional() }),
  z.looseObject({ role: z.literal('tool'), content, tool_call_id: z.string().min(1).max(200) }),
])

const tool = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'tool names are 1-64 chars of [A-Za-z0-9_-]'),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
})

const tokens = z.number().int().positive().max(1_000_000).nullable().optional()

/**
 * The Chat Completions request fields clients send. Unknown fields are ignored, as OpenAI does;
 * `null` is accepted wherever OpenAI's SDKs may send it for "unset".
 */
export const completionRequest = z.looseObject({
  model: z.string().min(1).max(200),
  messages: z.array(message).min(1).max(10_000),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  max_tokens: tokens,
  max_completion_tokens: tokens,
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullable().optional(),
  tools: z.array(tool).max(128).optional(),
  tool_choice: z
    .union([z.enum(['none', 'auto', 'required']), z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string().min(1) }) })])
    .optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  user: z.string().max(256).optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
})

export type CompletionRequest = z.infer<typeof completionRequest>

type Content = z.infer<typeof content>

/** The text of a message's content; a non-text part is a 400 (no model here reads images). */
function text(value: Content, index: number): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'string') return value
  return value
    .map((part, p) => {
      if (part.type !== 'text' || typeof part.text !== 'string') throw invalidRequest(`Only text content parts are supported (got ${part.type})`, `messages[${index}].content[${p}]`)
      return part.text
    })
    .join('')
}

/** The request's messages for the provider: `developer` is a system message, parts become text. */
export function chatMessages(request: CompletionRequest): ChatMessage[] {
  return request.messages.map((m, i): ChatMessage => {
    if (m.role === 'assistant') {
      const calls = m.tool_calls?.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments }))
      const said = text(m.content, i)
      return calls && calls.length > 0 ? { role: 'assistant', content: said || null, tool_calls: calls } : { role: 'assistant', content: said }
    }
    if (m.role === 'tool') return { role: 'tool', content: text(m.content, i), tool_call_id: m.tool_call_id }
    return { role: m.role === 'developer' ? 'system' : m.role, content: text(m.content, i) }
  })
}

/** The client's tools, unless `tool_choice` is `none` (then the model is offered none). */
export function clientTools(request: CompletionRequest): ToolDefinition[] | undefined {
  if (!request.tools || request.tools.length === 0 || request.tool_choice === 'none') return undefined
  return request.tools.map((t) => ({
    name: t.function.name,
    description: t.function.description ?? '',
    parameters: t.function.parameters ?? { type: 'object', properties: {} },
  }))
}

/** The sampling settings the provider takes; `max_completion_tokens` wins over the older `max_tokens`. */
export function modelSettings(request: CompletionRequest): Pick<ChatRequest, 'model' | 'temperature' | 'maxTokens' | 'topP' | 'stop' | 'toolChoice'> {
  const stop = request.stop ?? undefined
  const choice = request.tool_choice
  return {
    model: request.model,
    temperature: request.temperature ?? undefined,
    maxTokens: request.max_completion_tokens ?? request.max_tokens ?? undefined,
    topP: request.top_p ?? undefined,
    stop: typeof stop === 'string' ? [stop] : stop,
    toolChoice: choice === 'none' || choice === undefined ? undefined : typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.function.name } },
  }
}
