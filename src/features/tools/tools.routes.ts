import { Hono } from 'hono'
import { createMiddleware } from 'hono/factory'
import { z } from 'zod'
import type { AppEnv } from '../../env.ts'
import { problems } from '../../kernel/problem.ts'
import { json } from '../../pipeline/index.ts'
import { validate } from '../../middleware/validation/index.ts'
import type { ToolRegistry } from './registry.ts'

const executeBody = z.strictObject({
  arguments: z.record(z.string(), z.unknown()).default({}),
})

/** `GET /tools` and `POST /tools/:name/execute`, run as the authenticated caller. */
export function toolRoutes(registry: ToolRegistry) {
  // An unknown tool is a 404 whatever the body holds.
  const knownTool = createMiddleware<AppEnv>(async function knownTool(c, next) {
    const name = c.req.param('name') ?? ''
    if (!registry.has(name)) throw problems.notFound(`There is no tool named "${name}"`)
    await next()
  })

  return new Hono<AppEnv>()
    .get('/tools', (c) => json(c, { tools: registry.definitions() }))
    .post('/tools/:name/execute', knownTool, validate('json', executeBody), async (c) => {
      const { arguments: args } = c.req.valid('json')
      const outcome = await registry.execute(c.req.param('name'), args, { userId: c.get('user').id, signal: c.req.raw.signal })
      return json(c, outcome)
    })
}
