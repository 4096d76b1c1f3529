import {
  ProviderError,
  type ChatMessage,
  type ChatProvider,
  type ChatRequest,
  type ProviderEvent,
  type ToolCall,
  type Usage,
} from '../ports.ts'
import { systemClock, type Clock } from '../../kernel/clock.ts'
import { abortError, sleep } from '../timing.ts'

export interface BuiltinProviderOptions {
  /** Pause before each text chunk, to look like a model typing. 0 = none (benchmarks). Default 15 ms. */
  chunkDelayMs?: number
  /** The pauses run on it. Default: the system clock. */
  clock?: Clock
}

/** The model every reply of the stand-in reports, whatever the request asked for: it is what answered. */
export const BUILTIN_MODEL = 'builtin'

/** Longest stretch of the user's message quoted back; keeps a huge paste from becoming a huge reply. */
const MAX_QUOTE_CHARS = 4_000

const TOOL_COMMAND = /^\/tool\s+([A-Za-z0-9_-]{1,64})(?:\s+([\s\S]*))?$/

/**
 * The embedded stand-in model used when no AI service is configured: no network, no randomness.
 *
 * - It quotes the user's last message back, one text chunk per word.
 * - `/tool <name> <json arguments>` as the last user message asks for that tool (finish `tool_calls`);
 *   when the conversation ends with tool results it answers with them, so the tool loop runs offline.
 * - `/fail` makes the call fail with a `ProviderError`, to exercise error paths.
 * - Every reply reports the model `builtin`: a model named in the request is not what answered.
 */
export function createBuiltinProvider(options: BuiltinProviderOptions = {}): ChatProvider {
  const chunkDelayMs = options.chunkDelayMs ?? 15
  const clock = options.clock ?? systemClock
  const model = BUILTIN_MODEL

  async function* stream(request: ChatRequest): AsyncGenerator<ProviderEvent> {
    const { signal } = request
    if (signal.aborted) throw abortError()
    const promptTokens = tokens(request.messages.reduce((sum, message) => sum + (message.content?.length ?? 0), 0))
    const plan = reply(request)

    if (plan.kind === 'fail') throw new ProviderError('upstream_error', 'The built-in model was asked to fail')
    if (plan.kind === 'tool') {
      if (chunkDelayMs > 0) await sleep(chunkDelayMs, signal, clock)
      yield { type: 'tool_call', call: plan.call }
      const completionTokens = tokens(plan.call.name.length + plan.call.arguments.length)
      yield { type: 'finish', reason: 'tool_calls', model, usage: usageOf(promptTokens, completionTokens) }
      return
    }

    for (const delta of words(plan.text)) {
      if (chunkDelayMs > 0) await sleep(chunkDelayMs, signal, clock)
      else if (signal.aborted) throw abortError()
      yield { type: 'text', delta }
    }
    if (signal.aborted) throw abortError()
    yield { type: 'finish', reason: 'stop', model, usage: usageOf(promptTokens, tokens(plan.text.length)) }
  }

  return { name: 'builtin', defaultModel: model, stream }
}

type Plan = { kind: 'text'; text: string } | { kind: 'tool'; call: ToolCall } | { kind: 'fail' }

function reply(request: ChatRequest): Plan {
  const messages = request.messages
  const last = messages.at(-1)
  if (last?.role === 'tool') return { kind: 'text', text: toolAnswer(messages) }

  const user = [...messages].reverse().find((message) => message.role === 'user')
  const said = user?.content?.trim() ?? ''
  if (said === '/fail') return { kind: 'fail' }

  const command = TOOL_COMMAND.exec(said)
  if (command && last?.role === 'user') {
    const name = command[1]
    const offered = request.tools?.map((tool) => tool.name)
    if (offered && !offered.includes(name)) {
      const list = offered.length > 0 ? offered.join(', ') : 'none'
      return { kind: 'text', text: `I cannot call the tool "${name}": it is not available here. Available tools: ${list}.` }
    }
    const args = command[2]?.trim() || '{}'
    return { kind: 'tool', call: { id: `call_${fnv1a(`${messages.length}:${said}`)}`, name, arguments: args } }
  }

  if (!said) return { kind: 'text', text: 'Hello! I am the built-in development model. Send me a message and I will echo it back.' }
  const quote = said.length > MAX_QUOTE_CHARS ? `${said.slice(0, MAX_QUOTE_CHARS)}…` : said
  return {
    kind: 'text',
    text:
      `You said: "${quote}". ` +
      'I am the built-in development model, a stand-in that echoes your messages; ' +
      'set AI_BASE_URL to an OpenAI-compatible service for real answers.',
  }
}

/** The answer after one or more tool results: each result, named after the call that asked for it. */
function toolAnswer(messages: ChatMessage[]): string {
  const results: string[] = []
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]
    if (message.role !== 'tool') break
    const name = toolName(messages, message.tool_call_id) ?? 'tool'
    results.unshift(`The ${name} tool returned: ${message.content}`)
  }
  return results.join('\n')
}

function toolName(messages: ChatMessage[], callId: string): string | undefined {
  for (const message of messages) {
    if (message.role !== 'assistant' || !message.tool_calls) continue
    const call = message.tool_calls.find((candidate) => candidate.id === callId)
    if (call) return call.name
  }
  return undefined
}

/** Splits text into word-sized deltas that concatenate back to exactly the text. */
function words(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? []
}

/** About four characters per token, as with English text in GPT tokenizers. */
function tokens(chars: number): number {
  return Math.ceil(chars / 4)
}

function usageOf(promptTokens: number, completionTokens: number): Usage {
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens }
}

/** 32-bit FNV-1a as hex: a stable, dependency-free id from the conversation's content. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0).toString(16).padStart(8, '0')
}
