import type { Logger } from 'pino'
import type { HealthCheck } from '../../kernel/health.ts'
import {
  ProviderError,
  type ChatMessage,
  type ChatProvider,
  type ChatRequest,
  type FinishReason,
  type ProviderEvent,
  type ToolCall,
  type Usage,
} from '../ports.ts'
import { abortError, sleep as abortableSleep } from '../timing.ts'
import { SseLineDecoder } from './sse.ts'

export interface OpenAIProviderOptions {
  /** Base URL including the version segment, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`. */
  baseUrl: string
  /** Sent as `Authorization: Bearer …` when set. Default: none (local servers such as Ollama). */
  apiKey?: string | null
  /** Model used when a request names none. */
  model: string
  /** Temperature used when a request gives none. Default: left to the server. */
  temperature?: number
  /** `max_tokens` used when a request gives none. Default: left to the server. */
  maxTokens?: number
  /** Time allowed until the response headers arrive. Default 10 000 ms. */
  connectTimeoutMs?: number
  /** Time allowed between two chunks of the stream. Default 60 000 ms. */
  idleTimeoutMs?: number
  /** Retries of a 429, a 5xx or a failed connection, only before anything was yielded. Default 2. */
  maxRetries?: number
  /** First backoff step; doubles per attempt, with jitter, capped at 8 s. Default 500 ms. */
  retryBaseMs?: number
  /** A `Retry-After` longer than this is not waited for: the error goes to the caller. Default 30 000 ms. */
  maxRetryAfterMs?: number
  /** Default: the global `fetch`. */
  fetch?: typeof fetch
  /** Waits between retries; must reject when `signal` aborts. Default: a `setTimeout` sleep. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
  /** Jitter source in [0, 1). Default `Math.random`. */
  random?: () => number
  /** Logs retries and tolerated junk at debug/warn level. Default: silent. */
  logger?: Pick<Logger, 'debug' | 'warn'>
}

const MAX_BACKOFF_MS = 8_000
const HEALTH_TIMEOUT_MS = 5_000

/** Marks why the internal controller aborted, so a timeout is told apart from the caller's abort. */
class TimeoutSignal extends Error {}

/**
 * A provider for any server that speaks OpenAI's Chat Completions API (OpenAI, Ollama, vLLM,
 * LiteLLM, llama.cpp …), over `fetch` so it runs on every runtime.
 */
export function createOpenAIProvider(options: OpenAIProviderOptions): ChatProvider {
  const baseUrl = options.baseUrl.replace(/\/+$/, '')
  const fetchImpl = options.fetch ?? ((input, init) => fetch(input, init))
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000
  const maxRetries = options.maxRetries ?? 2
  const retryBaseMs = options.retryBaseMs ?? 500
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000
  const sleep = options.sleep ?? abortableSleep
  const random = options.random ?? Math.random
  const logger = options.logger

  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' }
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`

  function backoff(attempt: number, retryAfterMs: number | undefined): number {
    if (retryAfterMs !== undefined) return retryAfterMs
    const ceiling = Math.min(MAX_BACKOFF_MS, retryBaseMs * 2 ** attempt)
    return Math.round(ceiling / 2 + random() * (ceiling / 2))
  }

  async function* stream(request: ChatRequest): AsyncGenerator<ProviderEvent> {
    const { signal } = request
    const model = request.model ?? options.model
    const body = JSON.stringify(requestBody(request, model, options))
    let yielded = false

    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) throw abortError()
      let retryAfterMs: number | undefined
      let failure: ProviderError
      try {
        for await (const event of exchange(body, model, signal)) {
          yielded = true
          yield event
        }
        return
      } catch (error) {
        if (signal.aborted) throw abortError()
        if (!(error instanceof RetryableError)) throw error
        failure = error.failure
        retryAfterMs = error.retryAfterMs
      }
      // Once the caller has seen output, a second attempt would duplicate it.
      if (yielded || attempt >= maxRetries || (retryAfterMs !== undefined && retryAfterMs > maxRetryAfterMs)) throw failure
      const delay = backoff(attempt, retryAfterMs)
      logger?.debug({ attempt: attempt + 1, delay_ms: delay, code: failure.code, status: failure.upstreamStatus }, 'retrying AI request')
      try {
        await sleep(delay, signal)
      } catch {
        throw abortError()
      }
    }
  }

  /** One HTTP exchange. Failures that may be retried are thrown as `RetryableError`. */
  async function* exchange(body: string, model: string, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
    const controller = new AbortController()
    const forwardAbort = () => controller.abort(signal.reason)
    signal.addEventListener('abort', forwardAbort, { once: true })
    let timer: ReturnType<typeof setTimeout> | undefined
    const arm = (ms: number) => {
      clearTimeout(timer)
      timer = setTimeout(() => controller.abort(new TimeoutSignal()), ms)
    }
    const timedOut = () => controller.signal.reason instanceof TimeoutSignal
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
    try {
      arm(connectTimeoutMs)
      let response: Response
      try {
        response = await fetchImpl(`${baseUrl}/chat/completions`, { method: 'POST', headers, body, signal: controller.signal })
      } catch (error) {
        if (signal.aborted) throw abortError()
        if (timedOut()) throw new ProviderError('timeout', 'The AI service did not answer in time', { cause: error })
        throw new RetryableError(new ProviderError('unavailable', 'The AI service could not be reached', { cause: error }))
      }
      if (!response.ok || !response.body) {
        // Drain nothing: the body may hold upstream details that must not leak; just release it.
        await response.body?.cancel().catch(() => {})
        const failure = statusError(response.status)
        if (response.status === 429 || response.status >= 500) {
          throw new RetryableError(failure, parseRetryAfter(response.headers.get('retry-after')))
        }
        throw failure
      }

      reader = response.body.getReader()
      const decoder = new SseLineDecoder()
      const parser = new ChunkParser(model, logger)
      for (;;) {
        arm(idleTimeoutMs)
        let chunk: ReadableStreamReadResult<Uint8Array>
        try {
          chunk = await reader.read()
        } catch (error) {
          if (signal.aborted) throw abortError()
          if (timedOut()) throw new ProviderError('timeout', 'The AI service stopped sending data', { cause: error })
          throw new RetryableError(new ProviderError('upstream_error', 'The connection to the AI service was lost', { cause: error }))
        }
        clearTimeout(timer)
        const payloads = chunk.done ? decoder.end() : decoder.push(chunk.value)
        for (const payload of payloads) {
          const events = parser.accept(payload)
          if (events) yield* events
          if (parser.done) return
        }
        if (chunk.done) {
          // Some servers end the body without `[DONE]`; a finish_reason still makes it a complete reply.
          const events = parser.close()
          if (!events) throw new RetryableError(new ProviderError('upstream_error', 'The AI service ended the stream early'))
          yield* events
          return
        }
      }
    } finally {
      clearTimeout(timer)
      signal.removeEventListener('abort', forwardAbort)
      // Closes the upstream connection when the caller stops early (break, abort, error).
      if (!controller.signal.aborted) controller.abort()
      reader?.releaseLock()
    }
  }

  const health: HealthCheck = {
    name: 'ai_service',
    timeoutMs: HEALTH_TIMEOUT_MS,
    // An AI outage degrades chat but must not take the whole instance out of the load balancer.
    critical: false,
    async check(signal: AbortSignal) {
      const response = await fetchImpl(`${baseUrl}/models`, {
        headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
        signal: AbortSignal.any([signal, AbortSignal.timeout(HEALTH_TIMEOUT_MS)]),
      })
      await response.body?.cancel().catch(() => {})
      if (!response.ok) throw new Error(`the AI service answered ${response.status}`)
    },
  }

  return { name: 'openai', defaultModel: options.model, stream, health }
}

class RetryableError extends Error {
  readonly failure: ProviderError
  readonly retryAfterMs: number | undefined
  constructor(failure: ProviderError, retryAfterMs?: number) {
    super(failure.message)
    this.failure = failure
    this.retryAfterMs = retryAfterMs
  }
}

function requestBody(request: ChatRequest, model: string, options: OpenAIProviderOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model,
    messages: request.messages.map(wireMessage),
    stream: true,
    stream_options: { include_usage: true },
  }
  const temperature = request.temperature ?? options.temperature
  if (temperature !== undefined) body.temperature = temperature
  const maxTokens = request.maxTokens ?? options.maxTokens
  if (maxTokens !== undefined) body.max_tokens = maxTokens
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map((tool) => ({
      type: 'function',
      function: { name: tool.name, description: tool.description, parameters: tool.parameters },
    }))
  }
  return body
}

function wireMessage(message: ChatMessage): Record<string, unknown> {
  if (message.role === 'assistant' && message.tool_calls && message.tool_calls.length > 0) {
    return {
      role: 'assistant',
      content: message.content,
      tool_calls: message.tool_calls.map((call) => ({
        id: call.id,
        type: 'function',
        function: { name: call.name, arguments: call.arguments },
      })),
    }
  }
  return message
}

/** Messages a client may see: never the upstream body, which can echo keys or internal details. */
function statusError(status: number): ProviderError {
  const options = { upstreamStatus: status }
  if (status === 429) return new ProviderError('rate_limited', 'The AI service is rate limiting requests', options)
  if (status === 401 || status === 403) return new ProviderError('upstream_error', 'The AI service refused the configured credentials', options)
  if (status === 408 || status === 504) return new ProviderError('timeout', 'The AI service timed out', options)
  if (status === 503 || status === 502) return new ProviderError('unavailable', 'The AI service is unavailable', options)
  if (status >= 500) return new ProviderError('upstream_error', 'The AI service failed', options)
  return new ProviderError('bad_request', 'The AI service rejected the request', options)
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

interface WireToolCallDelta {
  index?: number
  id?: string
  function?: { name?: string; arguments?: string }
}

interface PendingToolCall {
  id: string
  name: string
  arguments: string
}

/** Turns `chat.completion.chunk` payloads into provider events; lenient on input, strict on output. */
class ChunkParser {
  done = false
  #model: string
  #finish: FinishReason | undefined
  #usage: Usage | undefined
  #toolCalls = new Map<number, PendingToolCall>()
  #logger: OpenAIProviderOptions['logger']

  constructor(model: string, logger: OpenAIProviderOptions['logger']) {
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
      if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls) if (isObject(call)) this.#toolDelta(call as WireToolCallDelta)
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

  #toolDelta(delta: WireToolCallDelta): void {
    const index = typeof delta.index === 'number' ? delta.index : this.#toolCalls.size
    let pending = this.#toolCalls.get(index)
    if (!pending) {
      pending = { id: '', name: '', arguments: '' }
      this.#toolCalls.set(index, pending)
    }
    if (typeof delta.id === 'string' && delta.id) pending.id = delta.id
    if (typeof delta.function?.name === 'string') pending.name += delta.function.name
    if (typeof delta.function?.arguments === 'string') pending.arguments += delta.function.arguments
  }

  #flushToolCalls(): ProviderEvent[] {
    const events: ProviderEvent[] = []
    const ordered = [...this.#toolCalls.entries()].sort((a, b) => a[0] - b[0])
    for (const [index, pending] of ordered) {
      if (!pending.name) throw new ProviderError('invalid_response', 'The AI service sent a tool call without a name')
      const call: ToolCall = {
        id: pending.id || `call_${index}`,
        name: pending.name,
        arguments: pending.arguments || '{}',
      }
      events.push({ type: 'tool_call', call })
    }
    this.#toolCalls.clear()
    return events
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
