import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { systemClock } from '../../kernel/clock.ts'
import { problems } from '../../kernel/problem.ts'
import { createBuiltinProvider } from '../../providers/builtin/index.ts'
import { createMemoryStores } from '../../storage/memory/index.ts'
import { createCompletions, type CompletionInput } from './completion.ts'

function input(content: string): CompletionInput {
  return {
    userId: 'alice',
    id: 'chatcmpl-test',
    request: { model: 'builtin', messages: [{ role: 'user', content }] },
    optIns: { memory: false, tools: false },
    signal: new AbortController().signal,
  }
}

describe('createCompletions', () => {
  it('runs each completion inside one admission of its user, released however it ends; a refusal calls no model', async () => {
    const stores = createMemoryStores({ clock: systemClock })
    const log: string[] = []
    let refuse = false
    const completions = createCompletions({
      provider: createBuiltinProvider({ chunkDelayMs: 0 }),
      conversations: stores.conversations,
      memoryContextItems: 3,
      maxToolRounds: 4,
      toolTimeoutMs: 10_000,
      clock: systemClock,
      async admit(userId) {
        if (refuse) throw problems.tooManyRequests(1)
        log.push(`admit ${userId}`)
        return () => log.push(`release ${userId}`)
      },
    })
    const done = await completions.run(input('hi'), { onText: () => log.push('text') })
    assert.match(done.text, /^You said: "hi"/)
    assert.deepEqual([log[0], log.at(-1)], ['admit alice', 'release alice'])
    log.length = 0
    await assert.rejects(completions.run(input('/fail')), { name: 'ProviderError' })
    assert.deepEqual(log, ['admit alice', 'release alice'])
    log.length = 0
    refuse = true
    await assert.rejects(completions.run(input('hi'), { onText: () => log.push('text') }), { status: 429 })
    assert.deepEqual(log, [])
  })
})
