import { toProblem } from '../../errors/problem.ts'
import type { Clock, TimerHandle } from '../../kernel/clock.ts'
import { HttpProblem, problems } from '../../kernel/problem.ts'
import type { ChatMessage, ChatProvider, ChatRequest, FinishReason, ToolCall, ToolDefinition, Usage } from '../../providers/ports.ts'
import type { ChatJob } from './jobs.ts'

/** The part of the tool registry chat needs (src/features/tools implements it). */
export interface ChatTools {
  definitions(): ToolDefinition[]
  /** Throws a problem when the tool is unknown, the arguments are invalid or the tool fails. */
  execute(name: string, args: unknown, context: { userId: string; signal: AbortSignal }): Promise<{ result: unknown; duration_ms: number }>
}

/**
 * Where the loop reports as it goes: a job's log (`ChatJob`), whose signal also cancels the model and
 * the tools, or a stateless response.
 */
export interface LoopSink {
  readonly userId: string
  readonly signal: AbortSignal
  appendText(delta: string): unknown
  append(type: 'tool_call' | 'tool_result', data: Record<string, unknown>): unknown
}

/** Per-request choices passed to the provider. */
export type ModelSettings = Pick<ChatRequest, 'model' | 'temperature' | 'maxTokens' | 'topP' | 'stop' | 'toolChoice'>

/**
 * The reply as the rounds build it. The caller keeps it, so a stopped or failed generation can
 * still save what was said. Deltas are joined when needed rather than concatenated per delta: `+=`
 * builds a chain of one string node per delta, which the garbage collector copies while the reply
 * runs and the memory store keeps.
 */
export class Reply {
  readonly deltas: string[] = []
  /** The model that answered, as the provider reported it. */
  model: string
  /** Summed over the rounds; undefined while the provider reported none. */
  usage: Usage | undefined
  /** Characters sent to the model over all rounds, for a token estimate without usage. */
  promptChars = 0
  /** Each tool call's arguments and result or error, saved with the reply (the widget shows them when reopened). */
  readonly toolTrace: Record<string, unknown>[] = []
  /** How the last round ended, as the provider reported it. */
  finishReason: FinishReason | undefined

  constructor(model: string) {
    this.model = model
  }

  text(): string {
    return this.deltas.join('')
  }

  addUsage(usage: Usage): void {
    this.usage = {
      promptTokens: (this.usage?.promptTokens ?? 0) + usage.promptTokens,
      completionTokens: (this.usage?.completionTokens ?? 0) + usage.completionTokens,
      totalTokens: (this.usage?.totalTokens ?? 0) + usage.totalTokens,
    }
  }
}

export interface ToolLoopOptions {
  provider: ChatProvider
  tools?: ChatTools
  /** Tool rounds per reply (config `tools.max_rounds`); after them tools are no longer offered. */
  maxRounds: number
  /** Per tool call, in ms (config `tools.timeout`). */
  toolTimeoutMs: number
  clock: Clock
}

export interface ToolLoop {
  /**
   * Streams provider rounds into `sink` and `reply` until the model answers without tool calls:
   * each requested tool runs (bounded by the tool timeout), logged as `tool_call` and `tool_result`
   * events, and its result is fed back. `onActivity` is called on every provider event and after
   * every tool call. Rejects with the signal's reason once `sink.signal` aborts.
   *
   * `clientTools`: tools the caller runs itself (OpenAI's `tools`), offered beside the server's (a
   * client's tool shadows a server tool of its name). A round that calls any of them ends the loop,
   * and those calls are what it resolves to, for the caller to answer; server calls of that round are
   * not run. Without `clientTools` it always resolves to none.
   */
  run(sink: LoopSink, messages: ChatMessage[], reply: Reply, settings: ModelSettings, onActivity: () => void, clientTools?: ToolDefinition[]): Promise<ToolCall[]>
}

export function createToolLoop(options: ToolLoopOptions): ToolLoop {
  const { provider, tools, maxRounds, toolTimeoutMs, clock } = options

  /** Runs one call; a failure becomes a result the model reads, never a failed reply. */
  async function runTool(sink: LoopSink, call: ToolCall): Promise<{ content: string; data: Record<string, unknown> }> {
    const args = parseArguments(call.arguments)
    sink.append('tool_call', { id: call.id, name: call.name, arguments: args ?? call.arguments })
    const started = clock.now()
    const controller = new AbortController()
    const onAbort = () => controller.abort(sink.signal.reason)
    sink.signal.addEventListener('abort', onAbort, { once: true })
    let timer: TimerHandle | undefined
    try {
      if (args === undefined) throw problems.badRequest('The tool arguments are not valid JSON')
      if (!tools) throw problems.notFound(`Unknown tool ${call.name}`)
      const timedOut = new Promise<never>((_, reject) => {
        timer = clock.setTimeout(() => {
          controller.abort('timeout')
          reject(problems.gatewayTimeout(`The tool ${call.name} took longer than ${toolTimeoutMs} ms`))
        }, toolTimeoutMs)
      })
      const { result, duration_ms } = await Promise.race([tools.execute(call.name, args, { userId: sink.userId, signal: controller.signal }), timedOut])
      sink.append('tool_result', { id: call.id, name: call.name, result, duration_ms })
      return { content: JSON.stringify(result ?? null), data: { id: call.id, name: call.name, arguments: args, result } }
    } catch (error) {
      if (sink.signal.aborted) throw error
      const problem = toProblem(error)
      const detail = problem.status >= 500 && !(error instanceof HttpProblem) ? 'The tool failed' : problem.detail ?? problem.title
      const failure = { status: problem.status, detail }
      sink.append('tool_result', { id: call.id, name: call.name, error: failure, duration_ms: clock.now() - started })
      return { content: JSON.stringify({ error: detail }), data: { id: call.id, name: call.name, arguments: args ?? call.arguments, error: failure } }
    } finally {
      clock.clearTimeout(timer)
      sink.signal.removeEventListener('abort', onAbort)
    }
  }

  /** One provider call; the tool calls it asked for. */
  async function round(sink: LoopSink, messages: ChatMessage[], reply: Reply, settings: ModelSettings, offered: ToolDefinition[] | undefined, onActivity: () => void) {
    reply.promptChars += messages.reduce((sum, m) => sum + (m.content?.length ?? 0), 0)
    const calls: ToolCall[] = []
    for await (const event of provider.stream({ messages, tools: offered, ...settings, signal: sink.signal })) {
      onActivity()
      if (event.type === 'text') {
        if (event.delta === '') continue
        reply.deltas.push(event.delta)
        sink.appendText(event.delta)
      } else if (event.type === 'tool_call') {
        calls.push(event.call)
      } else {
        reply.model = event.model || reply.model
        reply.finishReason = event.reason
        if (event.usage) reply.addUsage(event.usage)
      }
    }
    if (sink.signal.aborted) throw sink.signal.reason
    return calls
  }

  return {
    async run(sink, messages, reply, settings, onActivity, clientTools) {
      const clientNames = new Set(clientTools?.map((tool) => tool.name))
      const definitions = (tools?.definitions() ?? []).filter((tool) => !clientNames.has(tool.name))
      for (let rounds = 0; ; rounds++) {
        const offerTools = definitions.length > 0 && rounds < maxRounds
        const offered = [...(offerTools ? definitions : []), ...(clientTools ?? [])]
        const textBefore = reply.deltas.length
        const calls = await round(sink, messages, reply, settings, offered.length > 0 ? offered : undefined, onActivity)
        const forClient = calls.filter((call) => clientNames.has(call.name))
        if (forClient.length > 0) return forClient
        if (calls.length === 0 || !offerTools) return []
        messages.push({ role: 'assistant', content: reply.deltas.slice(textBefore).join('') || null, tool_calls: calls })
        for (const call of calls) {
          const outcome = await runTool(sink, call)
          onActivity()
          reply.toolTrace.push(outcome.data)
          messages.push({ role: 'tool', content: outcome.content, tool_call_id: call.id })
        }
      }
    },
  }
}

function parseArguments(text: string): unknown {
  try {
    return text.trim() === '' ? {} : JSON.parse(text)
  } catch {
    return undefined
  }
}
