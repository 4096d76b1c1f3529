import { Hono } from 'hono'
import type { AppEnv } from '../../env.ts'
import { json } from '../../pipeline/index.ts'
import { modelNotFound } from './errors.ts'

/** The models a client may name at `/v1`, and who serves them. */
export interface OfferedModels {
  ids: readonly string[]
  ownedBy: string
  /** Unix seconds reported as every model's `created`: when the server started offering it. */
  created: number
}

/**
 * The built-in stand-in offers `builtin` alone (it answers as itself whatever is asked); an upstream
 * offers `ai.model` and then `ai.models`, each once.
 */
export function offeredModels(provider: { name: string; defaultModel: string }, extra: readonly string[], nowMs: number): OfferedModels {
  const ids = provider.name === 'builtin' ? [provider.defaultModel] : [...new Set([provider.defaultModel, ...extra])]
  return { ids, ownedBy: provider.name === 'builtin' ? 'assistant-server' : provider.name, created: Math.floor(nowMs / 1000) }
}

/** The offered model `id`, else a 404 in OpenAI's shape. */
export function requireModel(models: OfferedModels, id: string): string {
  if (!models.ids.includes(id)) throw modelNotFound(id)
  return id
}

function modelJson(models: OfferedModels, id: string) {
  return { id, object: 'model', created: models.created, owned_by: models.ownedBy }
}

/** `GET /models` and `GET /models/{id}`; model ids may hold a slash (`org/model`). */
export function modelRoutes(models: OfferedModels) {
  const list = { object: 'list', data: models.ids.map((id) => modelJson(models, id)) }
  return new Hono<AppEnv>()
    .get('/models', (c) => json(c, list))
    .get('/models/:id{.+}', (c) => json(c, modelJson(models, requireModel(models, c.req.param('id')))))
}
