import { z, type ZodType } from 'zod'
import { systemClock, type Clock, type TimerHandle } from '../../kernel/clock.ts'
import { HttpProblem, problems } from '../../kernel/problem.ts'
import { fieldErrors } from '../../middleware/validation/index.ts'
import type { ToolDefinition } from '../../providers/ports.ts'
import { StoreUnavailableError } from '../../storage/ports.ts'

/** What a tool knows about its call: whose data it may touch, and when to give up. */
export interface ToolContext {
  userId: string
  /** Aborted when the caller goes away or the tool's timeout passes. */
  signal: AbortSignal
}

export interface Tool<Schema extends ZodType = ZodType> {
  /** `^[A-Za-z0-9_-]{1,64}$`, as function-calling APIs require. */
  name: string
  /** Shown to the model: say what it does and when to use it. */
  description: string
  schema: Schema
  // Method syntax on purpose: its parameters are bivariant, so any `Tool<S>` fits in a `Tool[]`.
  handler(args: z.output<Schema>, ctx: ToolContext): Promise<unknown>
  /** Overrides the registry's timeout for this tool. */
  timeoutMs?: number
}

export interface ToolErrorOptions {
  /** The argument at fault: the error becomes a 400 naming it. */
  field?: string
  /** The HTTP status; default 400 with `field`, else 422. */
  status?: number
}

/** A tool's expected failure (bad expression, file too large …); its message is shown to the caller. */
export class ToolError extends Error {
  readonly field: string | undefined
  readonly status: number
  constructor(message: string, options: ToolErrorOptions = {}) {
    super(message)
    this.name = 'ToolError'
    this.field = options.field
    this.status = options.status ?? (options.field ? 400 : 422)
  }
}

export interface ToolResult {
  result: unknown
  duration_ms: number
}

export interface ToolRegistryOptions {
  /** Time a tool may run before its signal aborts and the call fails with 504. Default 10 000 ms. */
  timeoutMs?: number
  /** The timeouts run on it. Default: the system clock. */
  clock?: Clock
}

interface Entry {
  definition: ToolDefinition
  timeoutMs: number | undefined
  /** Validates raw arguments and runs the handler; typed once, at registration. */
  run: (args: unknown, ctx: ToolContext) => Promise<unknown>
}

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/

/** The tools offered over HTTP and to the model; every failure comes out as an `HttpProblem`. */
export class ToolRegistry {
  readonly #tools = new Map<string, Entry>()
  readonly #timeoutMs: number
  readonly #clock: Clock

  constructor(options: ToolRegistryOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 10_000
    this.#clock = options.clock ?? systemClock
  }

  register<Schema extends ZodType>(tool: Tool<Schema>): this {
    if (!TOOL_NAME.test(tool.name)) throw new Error(`invalid tool name ${JSON.stringify(tool.name)}`)
    if (this.#tools.has(tool.name)) throw new Error(`tool ${tool.name} is already registered`)
    const { $schema: _, ...parameters } = z.toJSONSchema(tool.schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>
    this.#tools.set(tool.name, {
      definition: { name: tool.name, description: tool.description, parameters },
      timeoutMs: tool.timeoutMs,
      run: async (raw, ctx) => {
        const parsed = await tool.schema.safeParseAsync(raw ?? {})
        if (!parsed.success) {
          const errors = fieldErrors(parsed.error.issues)
          const named = errors.map((error) => error.path || '(root)').join(', ')
          throw problems.badRequest(`Invalid arguments for ${tool.name}: ${named}`, errors)
        }
        return tool.handler(parsed.data, ctx)
      },
    })
    return this
  }

  has(name: string): boolean {
    return this.#tools.has(name)
  }

  list(): string[] {
    return [...this.#tools.keys()]
  }

  /** The function-calling definitions: name, description and JSON Schema parameters. */
  definitions(): ToolDefinition[] {
    return [...this.#tools.values()].map((entry) => entry.definition)
  }

  /** `execute` for a model's tool call, whose arguments are JSON text; text that is not JSON is a 400. */
  executeCall(call: { name: string; arguments: string }, ctx: ToolContext): Promise<ToolResult> {
    if (!this.#tools.has(call.name)) return this.execute(call.name, {}, ctx)
    let args: unknown
    try {
      args = parseArguments(call.name, call.arguments)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.execute(call.name, args, ctx)
  }

  /**
   * Runs a tool within its timeout. Throws `HttpProblem`s only: 404 unknown tool, 400 invalid
   * arguments (naming them), 504 timeout, 422 for a `ToolError`, 503 for unavailable storage, 500 for
   * anything else (the cause is kept for the log, never shown). Rejects with the caller's abort reason
   * when `ctx.signal` aborts.
   */
  async execute(name: string, args: unknown, ctx: ToolContext): Promise<ToolResult> {
    const entry = this.#tools.get(name)
    if (!entry) throw problems.notFound(`There is no tool named "${name}"`)
    ctx.signal.throwIfAborted()

    const timeoutMs = entry.timeoutMs ?? this.#timeoutMs
    const controller = new AbortController()
    const forwardAbort = () => controller.abort(ctx.signal.reason)
    ctx.signal.addEventListener('abort', forwardAbort, { once: true })
    let timer: TimerHandle | undefined
    const started = performance.now()
    const running = entry.run(args, { userId: ctx.userId, signal: controller.signal })
    // A tool that ignores its signal may still settle after we gave up: never an unhandled rejection.
    running.catch(() => {})
    const stopped = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(() => {
        const problem = problems.gatewayTimeout(`The tool "${name}" did not finish within ${timeoutMs} ms`)
        controller.abort(problem)
        reject(problem)
      }, timeoutMs)
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true })
    })
    stopped.catch(() => {})
    try {
      const result = await Promise.race([running, stopped])
      return { result: result ?? null, duration_ms: Math.round((performance.now() - started) * 100) / 100 }
    } catch (error) {
      if (ctx.signal.aborted) throw ctx.signal.reason
      throw toolProblem(name, error)
    } finally {
      this.#clock.clearTimeout(timer)
      ctx.signal.removeEventListener('abort', forwardAbort)
      if (!controller.signal.aborted) controller.abort()
    }
  }
}

function parseArguments(name: string, text: string): unknown {
  if (text.trim() === '') return {}
  try {
    return JSON.parse(text)
  } catch {
    throw problems.badRequest(`The arguments for ${name} are not valid JSON`, [{ path: '', message: 'expected a JSON object' }])
  }
}

function toolProblem(name: string, error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error
  if (error instanceof ToolError) {
    if (error.field) return problems.badRequest(error.message, [{ path: error.field, message: error.message }])
    return new HttpProblem(error.status, { detail: error.message })
  }
  if (error instanceof StoreUnavailableError) return problems.unavailable('Storage is unavailable; try again shortly')
  return new HttpProblem(500, { detail: `The tool "${name}" failed unexpectedly`, cause: error })
}
