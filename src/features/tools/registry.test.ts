import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { z } from 'zod'
import { ManualClock } from '../../kernel/clock.ts'
import { HttpProblem } from '../../kernel/problem.ts'
import { StoreUnavailableError } from '../../storage/ports.ts'
import { ToolError, ToolRegistry } from './registry.ts'

const ctx = () => ({ userId: 'alice', signal: new AbortController().signal })

async function problemOf(promise: Promise<unknown>): Promise<HttpProblem> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof HttpProblem, `expected an HttpProblem, got ${String(error)}`)
    return error
  }
  assert.fail('expected a rejection')
}

function registry() {
  return new ToolRegistry({ timeoutMs: 1_000 }).register({
    name: 'echo',
    description: 'Echoes',
    schema: z.strictObject({ text: z.string().min(1), times: z.number().int().min(1).default(1) }),
    handler: async ({ text, times }, { userId }) => ({ text: text.repeat(times), userId }),
  })
}

describe('ToolRegistry', () => {
  it('runs a tool with parsed arguments and the caller, reporting the duration', async () => {
    const outcome = await registry().execute('echo', { text: 'ab', times: 2 }, ctx())
    assert.deepEqual(outcome.result, { text: 'abab', userId: 'alice' })
    assert.equal(typeof outcome.duration_ms, 'number')
    assert.ok(outcome.duration_ms >= 0)
  })

  it('lists definitions with JSON Schema parameters generated from zod', () => {
    const tools = registry()
    assert.deepEqual(tools.list(), ['echo'])
    const [definition] = tools.definitions()
    assert.equal(definition.name, 'echo')
    assert.equal(definition.description, 'Echoes')
    assert.equal(definition.parameters.$schema, undefined)
    assert.equal(definition.parameters.type, 'object')
    assert.deepEqual(definition.parameters.required, ['text'])
    assert.deepEqual((definition.parameters.properties as any).text, { type: 'string', minLength: 1 })
    assert.equal(definition.parameters.additionalProperties, false)
  })

  it('refuses bad and duplicate names', () => {
    const tools = registry()
    const tool = { name: 'echo', description: '', schema: z.object({}), handler: async () => null }
    assert.throws(() => tools.register(tool), /already registered/)
    assert.throws(() => tools.register({ ...tool, name: 'has space' }), /invalid tool name/)
  })

  it('answers 404 for an unknown tool', async () => {
    const problem = await problemOf(registry().execute('nope', {}, ctx()))
    assert.equal(problem.status, 404)
    assert.match(problem.detail ?? '', /nope/)
  })

  it('answers 400 naming every invalid field', async () => {
    const problem = await problemOf(registry().execute('echo', { text: '', times: 0, extra: 1 }, ctx()))
    assert.equal(problem.status, 400)
    const paths = (problem.extensions?.errors as { path: string }[]).map((error) => error.path).sort()
    assert.deepEqual(paths, ['', 'text', 'times'])
    assert.match(problem.detail ?? '', /echo: .*text/)
  })

  it("answers 504 past the tool's own timeout and aborts the tool signal", async () => {
    let aborted = false
    const clock = new ManualClock()
    const tools = new ToolRegistry({ timeoutMs: 5_000, clock }).register({
      name: 'slow',
      description: 'never ends',
      schema: z.object({}),
      timeoutMs: 30,
      handler: (_args, { signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => {
            aborted = true
            reject(new Error('stopped'))
          })
        }),
    })
    const pending = problemOf(tools.execute('slow', {}, ctx()))
    await clock.advance(29)
    assert.equal(aborted, false)
    await clock.advance(1)
    const problem = await pending
    assert.equal(problem.status, 504)
    assert.match(problem.detail ?? '', /within 30 ms/)
    assert.equal(aborted, true)
    assert.equal(clock.pending, 0, 'no timer left behind')
  })

  it('answers 504 even when the tool ignores its signal, without an unhandled rejection', async () => {
    const clock = new ManualClock()
    let failLate!: (error: Error) => void
    const tools = new ToolRegistry({ timeoutMs: 20, clock }).register({
      name: 'stubborn',
      description: '',
      schema: z.object({}),
      handler: () => new Promise((_, reject) => (failLate = reject)),
    })
    const pending = problemOf(tools.execute('stubborn', {}, ctx()))
    await clock.advance(20)
    assert.equal((await pending).status, 504)
    failLate(new Error('late failure'))
    // One turn of the event loop: an unhandled rejection would be reported before the test ends.
    await new Promise((resolve) => setImmediate(resolve))
  })

  it('turns a ToolError into a 422 (or a 400 naming its field) with its message', async () => {
    const tools = new ToolRegistry()
      .register({ name: 'fails', description: '', schema: z.object({}), handler: async () => { throw new ToolError('Nothing to do') } })
      .register({ name: 'bad_field', description: '', schema: z.object({}), handler: async () => { throw new ToolError('Bad value', { field: 'x' }) } })
    const failed = await problemOf(tools.execute('fails', {}, ctx()))
    assert.equal(failed.status, 422)
    assert.equal(failed.detail, 'Nothing to do')
    const field = await problemOf(tools.execute('bad_field', {}, ctx()))
    assert.equal(field.status, 400)
    assert.deepEqual(field.extensions?.errors, [{ path: 'x', message: 'Bad value' }])
  })

  it('turns a crash into a 500 that hides the message, and storage outages into 503', async () => {
    const tools = new ToolRegistry()
      .register({ name: 'buggy', description: '', schema: z.object({}), handler: async () => { throw new TypeError('secret internals') } })
      .register({ name: 'sync_throw', description: '', schema: z.object({}), handler: () => { throw new Error('thrown synchronously') } })
      .register({ name: 'store_down', description: '', schema: z.object({}), handler: async () => { throw new StoreUnavailableError() } })
    const buggy = await problemOf(tools.execute('buggy', {}, ctx()))
    assert.equal(buggy.status, 500)
    assert.doesNotMatch(buggy.detail ?? '', /secret/)
    assert.ok(buggy.cause instanceof TypeError)
    assert.equal((await problemOf(tools.execute('sync_throw', {}, ctx()))).status, 500)
    const down = await problemOf(tools.execute('store_down', {}, ctx()))
    assert.equal(down.status, 503)
  })

  it("rejects with the caller's abort reason when the caller goes away", async () => {
    const tools = new ToolRegistry().register({
      name: 'wait',
      description: '',
      schema: z.object({}),
      handler: (_args, { signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    })
    const controller = new AbortController()
    const pending = tools.execute('wait', {}, { userId: 'alice', signal: controller.signal })
    controller.abort()
    await assert.rejects(pending, { name: 'AbortError' })
  })

  it('runs a model tool call from JSON text, refusing text that is not JSON with a 400', async () => {
    const tools = registry()
    const outcome = await tools.executeCall({ name: 'echo', arguments: '{"text":"hi"}' }, ctx())
    assert.deepEqual(outcome.result, { text: 'hi', userId: 'alice' })
    const bad = await problemOf(tools.executeCall({ name: 'echo', arguments: '{"text":' }, ctx()))
    assert.equal(bad.status, 400)
    assert.match(bad.detail ?? '', /not valid JSON/)
    assert.equal((await problemOf(tools.executeCall({ name: 'ghost', arguments: '{' }, ctx()))).status, 404)
  })
})
