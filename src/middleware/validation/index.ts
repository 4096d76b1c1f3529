import { zValidator } from '@hono/zod-validator'
import type { ValidationTargets } from 'hono'
import type { ZodType } from 'zod'
import type { AppEnv } from '../../env.ts'
import { problems, type FieldError } from '../../kernel/problem.ts'

/** Zod issues as `{path, message}` pairs; `path` is dotted (`messages.0.role`), empty for the whole value. */
export function fieldErrors(issues: readonly { path: readonly PropertyKey[]; message: string }[]): FieldError[] {
  return issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }))
}

function describeTarget(target: keyof ValidationTargets): string {
  return target === 'json' ? 'request body' : target === 'query' ? 'query string' : target === 'param' ? 'path' : target
}

/**
 * `@hono/zod-validator` with our hook: an invalid request is a 400 problem listing every invalid
 * field (`errors: [{path, message}]`). A body that is not JSON at all is a 400 too, never a 500.
 */
export function validate<Target extends keyof ValidationTargets, Schema extends ZodType>(target: Target, schema: Schema) {
  return zValidator(target, schema, (result) => {
    if (!result.success) {
      const errors = fieldErrors(result.error.issues)
      const named = errors.map((error) => error.path || '(root)').join(', ')
      throw problems.badRequest(`Invalid ${describeTarget(target)}: ${named}`, errors)
    }
  })
}

export type { AppEnv }
