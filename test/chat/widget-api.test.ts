import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AUTH, testApp } from '../helpers/app.ts'

/** What the chat widget relies on from the chat and conversation routes, on the whole app at its defaults. */
describe('chat routes: what the widget needs', () => {
  async function setup() {
    const { app } = await testApp()
    const call = (method: string, path: string, body?: unknown) =>
      app.request(`/api/v1${path}`, {
        method,
        headers: { ...AUTH.alice, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    return { call }
  }

  it("a reopened conversation's reply carries its tool calls: name, arguments and result", async () => {
    const { call } = await setup()
    const chat = await call('POST', '/chat', { message: '/tool calculator {"expression":"2+3"}' })
    assert.equal(chat.status, 200)
    const { conversation_id } = await chat.json()
    const res = await call('GET', `/conversations/${conversation_id}`)
    assert.equal(res.status, 200)
    const { messages } = await res.json()
    assert.deepEqual(messages.map((m: { role: string }) => m.role), ['user', 'assistant'])
    const [tool] = messages[1].tools
    assert.equal(tool.name, 'calculator')
    assert.deepEqual(tool.arguments, { expression: '2+3' })
    assert.match(JSON.stringify(tool.result), /5/)
    assert.match(tool.id, /^call_/)
    assert.equal(messages[0].tools, undefined, 'only replies that called tools have the field')
  })

  it('a failed tool call is stored with its arguments and the error the model saw', async () => {
    const { call } = await setup()
    const chat = await call('POST', '/chat', { message: '/tool calculator {"expression":"2+"}' })
    const { conversation_id } = await chat.json()
    const { messages } = await (await call('GET', `/conversations/${conversation_id}`)).json()
    const [tool] = messages[1].tools
    assert.deepEqual(tool.arguments, { expression: '2+' })
    assert.equal(tool.error.status, 400)
    assert.ok(tool.error.detail)
    assert.equal(tool.result, undefined)
  })

  it('regenerate: true answers the last turn anew, replacing its reply (one copy of the question)', async () => {
    const { call } = await setup()
    const first = await (await call('POST', '/chat', { message: 'first question' })).json()
    const id = first.conversation_id
    await call('POST', '/chat', { message: 'second question', conversation_id: id })
    const again = await call('POST', '/chat', { message: 'second question', conversation_id: id, regenerate: true })
    assert.equal(again.status, 200)
    const { messages } = await (await call('GET', `/conversations/${id}`)).json()
    assert.deepEqual(
      messages.map((m: { role: string; content: string }) => `${m.role}: ${m.content.split('.')[0]}`),
      ['user: first question', 'assistant: You said: "first question"', 'user: second question', 'assistant: You said: "second question"'],
    )
  })

  it('regenerate must be a boolean: a 400 that changes nothing', async () => {
    const { call } = await setup()
    const res = await call('POST', '/chat/stream', { message: 'x', regenerate: 'yes' })
    assert.equal(res.status, 400)
    const problem = await res.json()
    assert.equal(problem.errors[0].path, 'regenerate')
    const list = await (await call('GET', '/conversations')).json()
    assert.deepEqual(list.data, [])
  })

  it('an over-long message is a 400 whose field error names the limit (the widget shows it)', async () => {
    const { call } = await setup()
    const res = await call('POST', '/chat/stream', { message: 'x'.repeat(32_769) })
    assert.equal(res.status, 400)
    const problem = await res.json()
    assert.equal(problem.detail, 'Invalid request body: message')
    assert.match(problem.errors[0].message, /longer than 32768 characters/)
  })
})
