import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import { serve, type ServerType } from '@hono/node-server'
import OpenAI from 'openai'
import { AUTH, KEYS, testApp } from '../helpers/app.ts'
import { sdkClient, ssePayloads, WEATHER_TOOL } from '../helpers/openai.ts'
import { chunk, closedWithin, scriptedUpstream, startSse, until, USAGE } from '../helpers/openai-upstream.ts'

/** `/v1` in front of an OpenAI-compatible upstream, scripted per test. */
const upstream = scriptedUpstream()

/** The app configured for the scripted upstream, as `AI_BASE_URL` and `AI_MODEL` would configure it. */
const upstreamApp = () => testApp({ env: { AI_BASE_URL: upstream.baseUrl, AI_MODEL: 'gpt-test' } })

const askWeather = [{ role: 'user' as const, content: 'Weather in Paris?' }]

/** The upstream's own tool call, its arguments split over three deltas as OpenAI streams them. */
function toolCallScript() {
  upstream.script = (_req, res) => {
    startSse(res)
    res.write(chunk({ delta: { role: 'assistant', content: null } }))
    res.write(chunk({ delta: { tool_calls: [{ index: 0, id: 'call_up_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] } }))
    for (const part of ['{"ci', 'ty":"Pa', 'ris"}']) res.write(chunk({ delta: { tool_calls: [{ index: 0, function: { arguments: part } }] } }))
    res.write(chunk({ delta: { tool_calls: [{ index: 1, id: 'call_up_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } }] } }))
    res.write(chunk({ delta: { tool_calls: [{ index: 1, function: { arguments: '"Oslo"}' } }] } }))
    res.write(chunk({ delta: {}, finish_reason: 'tool_calls' }))
    res.write(chunk(null, { usage: USAGE }))
    res.end('data: [DONE]\n\n')
  }
}

/** Our app on a real socket, so a client can hang up. */
async function listening(app: { fetch: (request: Request) => Response | Promise<Response> }): Promise<{ base: string; close(): Promise<void> }> {
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s))
  })
  const { port } = server.address() as AddressInfo
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
        server.close(() => resolve())
      }),
  }
}

describe('/v1/chat/completions against a scripted OpenAI upstream', () => {
  it("passes the upstream's own tool calls through, streamed and not, and the follow-up back", async () => {
    toolCallScript()
    const { app } = await upstreamApp()
    const client = sdkClient(app, KEYS.alice)
    const plain = await client.chat.completions.create({ model: 'gpt-test', messages: askWeather, tools: [WEATHER_TOOL], tool_choice: 'required' })
    const expected = [
      { id: 'call_up_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { id: 'call_up_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
    ]
    assert.deepEqual(plain.choices[0].message.tool_calls, expected)
    assert.equal(plain.choices[0].finish_reason, 'tool_calls')
    assert.deepEqual(plain.usage, USAGE)
    const sent = upstream.requests[0].body
    assert.deepEqual([sent.model, sent.tool_choice, sent.tools[0].function.name], ['gpt-test', 'required', 'get_weather'])

    const streamed = await client.chat.completions.stream({ model: 'gpt-test', messages: askWeather, tools: [WEATHER_TOOL] }).finalChatCompletion()
    assert.deepEqual(streamed.choices[0].message.tool_calls, expected)
    const raw = await app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { ...AUTH.alice, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-test', messages: askWeather, tools: [WEATHER_TOOL], stream: true }),
    })
    const deltas = ((await ssePayloads(raw)) as any[]).flatMap((p) => p.choices?.[0]?.delta?.tool_calls ?? [])
    // Each call's id, type and name once, in its first delta; the indexes in order and stable.
    assert.deepEqual(deltas.map((d) => [d.index, d.id ?? null, d.function.name ?? null]), [
      [0, 'call_up_1', 'get_weather'],
      [0, null, null],
      [1, 'call_up_2', 'get_weather'],
      [1, null, null],
    ])

    upstream.script = (_req, res) => {
      startSse(res)
      res.write(chunk({ delta: { content: 'Sunny, 21 °C.' }, finish_reason: 'stop' }))
      res.end('data: [DONE]\n\n')
    }
    const answer = await client.chat.completions.create({
      model: 'gpt-test',
      tools: [WEATHER_TOOL],
      messages: [
        ...askWeather,
        plain.choices[0].message,
        { role: 'tool', tool_call_id: 'call_up_1', content: '{"c":21}' },
        { role: 'tool', tool_call_id: 'call_up_2', content: '{"c":9}' },
      ],
    })
    assert.equal(answer.choices[0].message.content, 'Sunny, 21 °C.')
    const followUp = upstream.requests.at(-1)!.body.messages
    assert.deepEqual(followUp.at(-3).tool_calls, expected)
    assert.deepEqual(followUp.slice(-2), [
      { role: 'tool', content: '{"c":21}', tool_call_id: 'call_up_1' },
      { role: 'tool', content: '{"c":9}', tool_call_id: 'call_up_2' },
    ])
  })

  it('ends a stream whose upstream fails midway with one error event and no [DONE]', async () => {
    const { app } = await upstreamApp()
    const failures = [
      (res: import('node:http').ServerResponse) => res.end(`data: ${JSON.stringify({ error: { message: 'overloaded', code: 503 } })}\n\n`),
      (res: import('node:http').ServerResponse) => res.destroy(),
    ]
    for (const fail of failures) {
      upstream.script = (_req, res) => {
        startSse(res)
        res.write(chunk({ delta: { role: 'assistant', content: 'Hel' } }))
        setTimeout(() => fail(res), 20)
      }
      const res = await app.request('/v1/chat/completions', {
        method: 'POST',
        headers: { ...AUTH.alice, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-test', messages: askWeather, stream: true }),
      })
      assert.equal(res.status, 200, 'the first chunk came before the failure')
      const payloads = (await ssePayloads(res)) as any[]
      const errors = payloads.filter((p) => p.error)
      assert.equal(errors.length, 1)
      assert.equal(payloads.at(-1), errors[0], 'the error event is the last')
      assert.deepEqual([errors[0].error.type, errors[0].error.code], ['server_error', 'upstream_error'])
      assert.equal(errors[0].error.request_id, res.headers.get('x-request-id'))
      assert.equal(payloads.map((p) => p.choices?.[0]?.delta?.content ?? '').join(''), 'Hel')
    }
    // The SDK raises it while iterating.
    const stream = await sdkClient(app, KEYS.alice).chat.completions.create({ model: 'gpt-test', messages: askWeather, stream: true })
    await assert.rejects(async () => {
      for await (const _ of stream);
    }, OpenAI.APIError)
  })

  it('answers an upstream that refuses before the first chunk with a real status', async () => {
    upstream.script = (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: 'bad', type: 'invalid_request_error' } }))
    }
    const { app } = await upstreamApp()
    const failed = await sdkClient(app, KEYS.alice).chat.completions.create({ model: 'gpt-test', messages: askWeather, stream: true }).catch((e: unknown) => e)
    assert.ok(failed instanceof OpenAI.APIError && failed.status === 502, String(failed))
  })

  for (const stream of [true, false]) {
    it(`cancels the upstream within 1 s when the client hangs up (${stream ? 'streaming' : 'non-streaming'})`, async () => {
      upstream.script = (_req, res) => {
        startSse(res)
        res.write(chunk({ delta: { role: 'assistant', content: 'Thinking' } }))
        // …and never more: only the client going away ends this.
      }
      const { app } = await upstreamApp()
      const server = await listening(app)
      try {
        const hangUp = new AbortController()
        const res = fetch(`${server.base}/v1/chat/completions`, {
          method: 'POST',
          headers: { ...AUTH.alice, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-test', messages: askWeather, stream }),
          signal: hangUp.signal,
        })
        if (stream) {
          const reader = (await res).body!.getReader()
          let seen = ''
          while (!seen.includes('Thinking')) seen += new TextDecoder().decode((await reader.read()).value)
        } else {
          await until(() => upstream.requests.length === 1, 'the request to reach the upstream')
          res.catch(() => {})
        }
        hangUp.abort()
        await closedWithin(upstream, 1_000)
      } finally {
        await server.close()
      }
    })
  }
})
