import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import OpenAI from 'openai'
import type { E2ETarget, TargetRef } from './client.ts'

/** The official SDK against the running server, as an editor or Open WebUI would configure it. */
function client(target: E2ETarget, key = target.users.alice.key): OpenAI {
  return new OpenAI({ baseURL: `${target.baseUrl}/v1`, apiKey: key, maxRetries: 0, timeout: 10_000 })
}

/** `/v1`: the OpenAI-compatible API through the `openai` SDK. */
export function openAIChecks(target: TargetRef): void {
  describe('/v1 (OpenAI-compatible)', () => {
    it('models.list() names the built-in stand-in', async () => {
      const page = await client(target()).models.list()
      assert.deepEqual(page.data.map((model) => [model.id, model.object]), [['builtin', 'model']])
    })

    it('streams a completion with include_usage: role first, the non-streamed text, one usage chunk last', async () => {
      const sdk = client(target())
      const messages = [{ role: 'user' as const, content: `e2e on ${target().runtime}` }]
      const plain = await sdk.chat.completions.create({ model: 'builtin', messages })
      const stream = await sdk.chat.completions.create({ model: 'builtin', messages, stream: true, stream_options: { include_usage: true } })
      const chunks = []
      for await (const chunk of stream) chunks.push(chunk)
      assert.equal(chunks[0].choices[0].delta.role, 'assistant')
      assert.equal(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join(''), plain.choices[0].message.content)
      assert.deepEqual(chunks.filter((chunk) => chunk.usage).map((chunk) => chunk.choices), [[]])
      assert.ok(chunks.at(-1)!.usage)
    })

    it('a bad key is an AuthenticationError from an OpenAI-shaped 401', async () => {
      const failed = await client(target(), 'not-a-valid-key-000000').models.list().catch((error: unknown) => error)
      assert.ok(failed instanceof OpenAI.AuthenticationError, String(failed))
      assert.equal((failed.error as { request_id?: string }).request_id, failed.requestID)
    })
  })
}
