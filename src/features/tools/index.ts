import type { Config } from '../../config/index.ts'
import { systemClock, type Clock } from '../../kernel/clock.ts'
import type { MemoryStore } from '../../storage/ports.ts'
import { calculatorTool } from './calculator.ts'
import { memorySearchTool, memoryStoreTool } from './memory.ts'
import { ToolRegistry, type Tool } from './registry.ts'
import { currentTimeTool } from './time.ts'
import { listFilesTool, readFileTool, searchFilesTool, Workspace, type WorkspaceFs } from './workspace.ts'

export { evaluate } from './calculator.ts'
export { ToolError, ToolRegistry, type Tool, type ToolContext, type ToolErrorOptions, type ToolRegistryOptions, type ToolResult } from './registry.ts'
export { toolRoutes } from './tools.routes.ts'
export { Workspace, type WorkspaceFs, type WorkspaceLimits } from './workspace.ts'

export interface BuiltinToolsOptions {
  /** The caller's long-term memory, for `memory_search` and `memory_store`. */
  memory: MemoryStore
  /** `workspace_root` switches on the workspace tools; the size and result caps bound them. */
  config: Pick<Config['tools'], 'workspace_root' | 'max_file_bytes' | 'max_search_results'>
  /** The runtime's filesystem; without it (Workers) the workspace tools are absent even with a root. */
  workspaceFs?: WorkspaceFs
  /** For `current_time` and the registry's timeouts. Default: the system clock. */
  clock?: Clock
}

/**
 * The built-in tools: `calculator`, `current_time`, `memory_search`, `memory_store`, and — when
 * `config.workspace_root` is set and a `workspaceFs` is given — `list_files`, `read_file`, `search_files`.
 */
export function createBuiltinTools(options: BuiltinToolsOptions): Tool[] {
  const tools: Tool[] = [
    calculatorTool(),
    currentTimeTool(options.clock ?? systemClock),
    memorySearchTool(options.memory),
    memoryStoreTool(options.memory),
  ]
  const root = options.config.workspace_root
  if (root && options.workspaceFs) {
    const workspace = new Workspace(options.workspaceFs, root)
    const limits = { maxFileBytes: options.config.max_file_bytes, maxSearchResults: options.config.max_search_results }
    tools.push(listFilesTool(workspace), readFileTool(workspace, limits), searchFilesTool(workspace, limits))
  }
  return tools
}

export interface ToolRegistryFromConfig extends BuiltinToolsOptions {
  config: Config['tools']
}

/** A registry holding the built-in tools, with the configured per-tool timeout (`tools.timeout`). */
export function createToolRegistry(options: ToolRegistryFromConfig): ToolRegistry {
  const registry = new ToolRegistry({ timeoutMs: options.config.timeout, clock: options.clock })
  for (const tool of createBuiltinTools(options)) registry.register(tool)
  return registry
}
