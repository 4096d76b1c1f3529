import { parse as parseYaml } from 'yaml'
import { defaults } from './defaults.ts'
import { configSchema, type Config } from './schema.ts'

/** A config that failed validation; `problems` name each key path and its source. */
export class ConfigError extends Error {
  readonly problems: string[]
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

export interface ConfigSources {
  /** Environment variables (plain strings), the process environment or a Workers `env` object. */
  env?: Record<string, unknown>
  /** YAML text and the name to cite in errors (usually the file path). */
  yaml?: { text: string; source: string }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type Leaf = { path: string[]; sample: Json }

/** Aliases kept for compatibility with common deployments; the naming rule covers everything else. */
const ENV_ALIASES: Record<string, string> = {
  API_KEYS: 'AUTH_API_KEYS',
}

/**
 * The environment name of a key: its path below `server:` in upper snake case (`server.rate_limit.burst`
 * → `RATE_LIMIT_BURST`); keys of other sections keep the section (`ai.base_url` → `AI_BASE_URL`).
 */
export function envName(path: string[]): string {
  const parts = path[0] === 'server' ? path.slice(1) : path
  return parts.join('_').toUpperCase()
}

/** Every setting with its environment variable name, for docs and for reading the environment. */
export function settingsTable(): { env: string; path: string; default: Json }[] {
  return leaves(defaults as unknown as Json, []).map(({ path, sample }) => ({
    env: envName(path),
    path: path.join('.'),
    default: sample,
  }))
}

function leaves(node: Json, path: string[]): Leaf[] {
  if (node !== null && typeof node === 'object' && !Array.isArray(node)) {
    return Object.entries(node).flatMap(([key, value]) => leaves(value, [...path, key]))
  }
  return [{ path, sample: node }]
}

/** Turns an env string into the default's type; leaves it a string when it does not fit, so zod names the problem. */
function fromEnv(raw: string, sample: Json, path: string[]): Json {
  const text = raw.trim()
  if (path.join('.') === 'auth.api_keys') return text === '' ? [] : (parseApiKeys(text) as unknown as Json)
  if (Array.isArray(sample)) return text === '' ? [] : text.split(',').map((item) => item.trim())
  if (typeof sample === 'boolean') {
    if (/^(true|1|yes|on)$/i.test(text)) return true
    if (/^(false|0|no|off)$/i.test(text)) return false
    return text
  }
  if (typeof sample === 'number') return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text
  if (sample === null && text === '') return null
  return text
}

/** `alice:key1,bob:key2` → hashed entries. The plain keys never reach the config object. */
function parseApiKeys(text: string): { user: string; key: string }[] {
  return text.split(',').map((pair) => {
    const at = pair.indexOf(':')
    return at < 0 ? { user: '', key: pair.trim() } : { user: pair.slice(0, at).trim(), key: pair.slice(at + 1).trim() }
  })
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(over)) out[key] = deepMerge(base[key], value)
  return out
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target
  for (const key of path.slice(0, -1)) {
    if (!isObject(node[key])) node[key] = {}
    node = node[key] as Record<string, unknown>
  }
  node[path[path.length - 1]] = value
}

/**
 * Merges built-in defaults, then the YAML document, then the environment, and validates the result
 * with one schema. Throws `ConfigError` naming every bad key (with the env variable or file it came from).
 */
export async function loadConfig(sources: ConfigSources = {}): Promise<Config> {
  const origin = new Map<string, string>()
  let merged: unknown = structuredClone(defaults)

  if (sources.yaml) {
    let doc: unknown
    try {
      doc = parseYaml(sources.yaml.text) ?? {}
    } catch (error) {
      throw new ConfigError([`${sources.yaml.source}: not valid YAML: ${(error as Error).message.split('\n')[0]}`])
    }
    if (!isObject(doc)) throw new ConfigError([`${sources.yaml.source}: the top level must be a mapping`])
    merged = deepMerge(merged, doc)
    for (const leaf of leaves(doc as Json, [])) origin.set(leaf.path.join('.'), sources.yaml.source)
  }

  const env = sources.env ?? {}
  const overrides: Record<string, unknown> = {}
  const pendingKeys: { user: string; key: string }[][] = []
  for (const { path, sample } of leaves(defaults as unknown as Json, [])) {
    const name = envName(path)
    const alias = Object.keys(ENV_ALIASES).find((key) => ENV_ALIASES[key] === name)
    const used = typeof env[name] === 'string' ? name : alias && typeof env[alias] === 'string' ? alias : undefined
    if (!used) continue
    const value = fromEnv(env[used] as string, sample, path)
    if (path.join('.') === 'auth.api_keys') {
      pendingKeys.push(value as unknown as { user: string; key: string }[])
      continue
    }
    setPath(overrides, path, value)
    origin.set(path.join('.'), `env ${used}`)
  }
  merged = deepMerge(merged, overrides)

  const problems: string[] = []
  for (const entries of pendingKeys) {
    const hashed: { user: string; sha256: string }[] = []
    for (const [index, { user, key }] of entries.entries()) {
      if (!user || !key) {
        problems.push(`auth.api_keys[${index}] (env API_KEYS): expected user:key pairs separated by commas`)
        continue
      }
      if (key.length < 16) problems.push(`auth.api_keys[${index}] (env API_KEYS): the key for ${user} is shorter than 16 characters`)
      hashed.push({ user, sha256: await sha256Hex(key) })
    }
    setPath(merged as Record<string, unknown>, ['auth', 'api_keys'], hashed)
    origin.set('auth.api_keys', 'env API_KEYS')
  }

  const result = configSchema.safeParse(merged)
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.map(String)
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          const full = [...path, key].join('.')
          problems.push(`${full}${describe(origin.get(full))}: unknown key`)
        }
        continue
      }
      const full = path.join('.')
      const from = origin.get(full) ?? origin.get(path.slice(0, -1).join('.'))
      problems.push(`${full}${describe(from)}: ${issue.message}`)
    }
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return result.data!
}

function describe(source: string | undefined): string {
  return source ? ` (from ${source})` : ''
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('')
}
