import { zValidator } from '@hono/zod-validator'
import type { ValidationTargets } from 'hono'
import type { ZodType } from 'zod'
import type { AppEnv } from '../../env.ts'
import { problems, type FieldError } from '../../kernel/problem.ts'
import { scopeOf } from '../../pipeline/index.ts'

/** Zod issues as `{path, message}` pairs; `path` is dotted (`messages.0.role`), empty for the whole value. */
export function fieldErrors(issues: readonly { path: readonly PropertyKey[]; message: string }[]): FieldError[] {
  return issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }))
}

function describeTarget(target: keyof ValidationTargets): string {
  return target === 'json' ? 'request body' : target === 'query' ? 'query string' : target === 'param' ? 'path' : target
}

/** How deep a JSON body may nest (objects and arrays) before it is refused unparsed. */
export const MAX_JSON_DEPTH = 64

/**
 * The deepest nesting of objects and arrays in JSON `text`, counted without parsing (brackets inside
 * strings do not count), stopping as soon as it passes `limit`. Linear and allocation-free, so a body
 * of nested brackets is refused in a fraction of what `JSON.parse` would spend on it.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (inString) {
      if (code === 0x5c) i++ // a backslash escapes the next character
      else if (code === 0x22) inString = false
    } else if (code === 0x22) inString = true
    else if (code === 0x7b || code === 0x5b) {
      if (++depth > limit) return true
    } else if (code === 0x7d || code === 0x5d) depth--
  }
  return false
}

/**
 * `@hono/zod-validator` with our hook: an invalid request is a 400 problem listing every invalid
 * field (`errors: [{path, message}]`). A body that is not JSON at all is a 400 too, never a 500, and a
 * JSON body nesting deeper than `MAX_JSON_DEPTH` is a 400 before it is parsed.
 */
export function validate<Target extends keyof ValidationTargets, Schema extends ZodType>(target: Target, schema: Schema) {
  const validator = zValidator(target, schema, (result) => {
    if (!result.success) {
      const errors = fieldErrors(result.error.issues)
      const named = errors.map((error) => error.path || '(root)').join(', ')
      throw problems.badRequest(`Invalid ${describeTarget(target)}: ${named}`, errors)
    }
  })
  if (target !== 'json') return validator
  const guarded = async (...[c, next]: Parameters<typeof validator>) => {
    // The validator parses JSON bodies only (by Content-Type); so does this check.
    if (!JSON_TYPE.test(c.req.header('content-type') ?? '')) return validator(c, next)
    // Read once here; the validator's own `c.req.json()` parses this cached text.
    const scope = scopeOf(c)
    scope.receiving = true
    let text: string
    try {
      text = await c.req.text()
    } finally {
      scope.receiving = false
    }
    if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
      throw problems.badRequest(`Invalid request body: nests deeper than ${MAX_JSON_DEPTH} levels`, [{ path: '', message: `nests deeper than ${MAX_JSON_DEPTH} levels` }])
    }
    return validator(c, next)
  }
  return guarded as typeof validator
}

const JSON_TYPE = /^application\/([a-z-.]+\+)?json/i

export type { AppEnv }
