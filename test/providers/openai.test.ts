import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { ManualClock } from '../../src/kernel/clock.ts'
import { createOpenAIProvider, parseRetryAfter, type OpenAIProviderOptions } from '../../src/providers/openai/index.ts'
import { ProviderError, type ChatRequest, type ProviderEvent } from '../../src/providers/ports.ts'
import { CHUNK, chunk, closedWithin, scriptedUpstream, startSse, until, USAGE } from '../helpers/openai-upstream.ts'

const upstream = scriptedUpstream()

function provider(options: Partial<OpenAIProviderOptions> = {}) {
  return createOpenAIProvider({
    baseUrl: upstream.baseUrl,
    apiKey: 'sk-test-key',
    model: 'gpt-test',
    connectTimeoutMs: 2_000,
    idleTimeoutMs: 2_000,
    maxRetries: 2,
    retryBaseMs: 1,
    ...options,
  })
}

function request(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return { messages: [{ role: 'user', content: 'Hi' }], signal: new AbortController().signal, ...overrides }
}

async function collect(stream: AsyncIterable<ProviderEvent>): Promise<ProviderEvent[]> {
  const events: ProviderEvent[] = []
  for await (const event of stream) events.push(event)
  return events
}

function text(events: ProviderEvent[]): string {
  return events.map((event) => (event.type === 'text' ? event.delta : '')).join('')
}

/** A logger that records the retries the provider announces (`delay_ms` of each). */
function retryLog() {
  const delays: number[] = []
  return { delays, logger: { debug: (fields: { delay_ms: number }) => void delays.push(fields.delay_ms), warn: () => {} } }
}

describe('OpenAI-compatible provider against a scripted upstream', () => {
  it('streams plain text chunks and finishes with model and usage', async () => {
    upstream.script = (_req, res) => {
      startSse(res)
      res.write(chunk({ delta: { role: 'assistant', content: '' } }))
      res.write(chunk({ delta: { content: 'Hel' } }))
      res.write(chunk({ delta: { content: 'lo' } }))
      res.write(chunk({ delta: {}, finish_reason: 'stop' }))
      res.write(chunk(null, { usage: USAGE }))
      res.end('data: [DONE]\n\n')
    }
    const events = await collect(provider().stream(request()))
    assert.deepEqual(events, [
      { type: 'text', delta: 'Hel' },
      { type: 'text', delta: 'lo' },
      { type: 'finish', reason: 'stop', model: 'gpt-test', usage: { promptTokens: 9, completionTokens: 2, totalTokens: 11 } },
    ])
  })

  it('reports the model the upstream says answered, else the one it was asked for', async () => {
    upstream.script = (_req, res) => {
      startSse(res)
      res.write(chunk({ delta: { content: 'hi' }, finish_reason: 'stop' }, { model: 'gpt-4o-2024-08-06' }))
      res.end('data: [DONE]\n\n')
    }
    const named = await collect(provider({ model: 'gpt-4o' }).stream(request()))
    assert.deepEqual(named.at(-1), { type: 'finish', reason: 'stop', model: 'gpt-4o-2024-08-06' })
    upstream.script = (_req, res) => {
      startSse(res)
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: 'stop' }] })}\n\n`)
      res.end('data: [DONE]\n\n')
    }
    assert.deepEqual((await collect(provider({ model: 'configured' }).stream(request()))).at(-1), { type: 'finish', reason: 'stop', model: 'configured' })
    assert.deepEqual((await collect(provider({ model: 'configured' }).stream(request({ model: 'asked' })))).at(-1), { type: 'finish', reason: 'stop', model: 'asked' })
  })

  it('sends the OpenAI request: stream, include_usage, tools as functions, options, bearer key', async () => {
    upstream.script = (_req, res) => {
      startSse(res)
      res.write(chunk({ delta: { content: 'ok' }, finish_reason: 'stop' }))
      res.end('data: [DONE]\n\n')
    }
    const parameters = { type: 'object', properties: { expression: { type: 'string' } }, required: ['expression'] }
    await collect(
      provider().stream(
        request({
          messages: [
            { role: 'system', content: 'Be brief' },
            { role: 'user', content: '2+2?' },
            { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', name: 'calculator', arguments: '{"expression":"2+2"}' }] },
            { role: 'tool', content: '{"result":4}', tool_call_id: 'call_1' },
          ],
          tools: [{ name: 'calculator', description: 'Arithmetic', parameters }],
          model: 'other-model',
          temperature: 0.2,
          maxTokens: 50,
        }),
      ),
    )
    assert.equal(upstream.requests.length, 1)
    const [sent] = upstream.requests
    assert.equal(sent.method, 'POST')
    assert.equal(sent.url, '/v1/chat/completions')
    assert.equal(sent.headers.authorization, 'Bearer sk-test-key')
    assert.equal(sent.body.stream, true)
    assert.deepEqual(sent.body.stream_options, { include_usage: true })
    assert.equal(sent.body.model, 'other-model')
    assert.equal(sent.body.temperature, 0.2)
    assert.equal(sent.body.max_tokens, 50)
    assert.deepEqual(sent.body.tools, [{ type: 'function', function: { name: 'calculator', description: 'Arithmetic', parameters } }])
    assert.deepEqual(sent.body.messages[2], {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'calculator', arguments: '{"expression":"2+2"}' } }],
    })
    assert.deepEqual(sent.body.messages[3], { role: 'tool', content: '{"result":4}', tool_call_id: 'call_1' })
  })

  it('reassembles a UTF-8 character and a line split across two TCP writes', async () => {
    upstream.script = async (_req, res) => {
      startSse(res)
      const bytes = new TextEncoder().encode(chunk({ delta: { content: 'héllo 👋' } }))
      const emoji = bytes.indexOf(0xf0) // first byte of the 4-byte 👋
      res.write(bytes.subarray(0, emoji + 2))
      await delay(20)
      res.write(bytes.subarray(emoji + 2))
      res.write(chunk({ delta: {}, finish_reason: 'stop' }).replace('\n\n', '\r\n\r\n'))
      res.end('data: [DONE]\n\n')
    }
    const events = await collect(provider().stream(request()))
    assert.equal(text(events), 'héllo 👋')
    assert.deepEqual(events.at(-1), { type: 'finish', reason: 'stop', model: 'gpt-test' })
  })

  it('assembles two parallel tool calls from deltas spread over several chunks', async () => {
    upstream.script = (_req, res) => {
      startSse(res)
      res.write(chunk({ delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'calculator', arguments: '' } }] } }))
      res.write(chunk({ delta: { tool_calls: [{ index: 0, function: { arguments: '{"expr' } }] } }))
      res.write(chunk({ delta: { tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'current_time', arguments: '' } }] } }))
      res.write(chunk({ delta: { tool_calls: [{ index: 0, function: { arguments: 'ession":"2+2"}' } }] } }))
      res.write(chunk({ delta: { tool_calls: [{ index: 1, function: { arguments: '{"timezone":"UTC"}' } }] } }))
      res.write(chunk({ delta: {}, finish_reason: 'tool_calls' }))
      res.write(chunk(null, { usage: USAGE }))
      res.end('data: [DONE]\n\n')
    }
    const events = await collect(provider().stream(request()))
    assert.deepEqual(events, [
      { type: 'tool_call', call: { id: 'call_a', name: 'calculator', arguments: '{"expression":"2+2"}' } },
      { type: 'tool_call', call: { id: 'call_b', name: 'current_time', arguments: '{"timezone":"UTC"}' } },
      { type: 'finish', reason: 'tool_calls', model: 'gpt-test', usage: { promptTokens: 9, completionTokens: 2, totalTokens: 11 } },
    ])
  })

  it('accepts a usage chunk with choices: null and a stream without usage', async () => {
    upstream.script = (_req, res) => {
      startSse(res)
      res.write(chunk({ delta: { content: 'a' }, finish_reason: 'length' }))
      res.write(`data: ${JSON.stringify({ ...CHUNK, choices: null, usage: { prompt_tokens: 3, completion_tokens: 1 } })}\n\n`)
      res.end('data: [DONE]\n\n')
    }
    assert.deepEqual((await collect(provider().stream(request()))).at(-1), {
      type: 'finish',
      reason: 'length',
      model: 'gpt-test',
      usage: { promptTokens: 3, completionTokens: 1, totalTokens: 4 },
    })

    upstream.script = (_req, res) => {
      startSse(res)
      res.write(chunk({ delta: { content: 'a' } }))
      res.end('data: [DONE]\n\n')
    }
    const events = await collect(provider().stream(request()))
    assert.deepEqual(events.at(-1), { type: 'finish', reason: 'stop', model: 'gpt-test' })
  })

  it('skips non-JSON garbage lines, comments and other SSE fields', async () => {
    upstream.script = (_req, res) => {
      startSse(res)
      res.write(': keep-alive\n\n')
      res.write('event: ping\nid: 7\n\n')
      res.write('data: <html>proxy says hi</html>\n\n')
      res.write(chunk({ delta: { content: 'fine' }, finish_reason: 'stop' }))
      res.end('data: [DONE]\n\n')
    }
    const events = await collect(provider().stream(request()))
    assert.equal(text(events), 'fine')
    assert.equal(events.at(-1)?.type, 'finish')
  })

  it('finishes when the body ends after a finish_reason without [DONE]', async () => {
    upstream.script = (_req, res) => {
      startSse(res)
      res.end(chunk({ delta: { content: 'x' }, finish_reason: 'stop' }).trimEnd())
    }
    const events = await collect(provider().stream(request()))
    assert.deepEqual(events, [
      { type: 'text', delta: 'x' },
      { type: 'finish', reason: 'stop', model: 'gpt-test' },
    ])
  })

  it('retries a 429 (Retry-After: 0) and then streams once', async () => {
    upstream.script = (_req, res, attempt) => {
      if (attempt === 1) {
        res.writeHead(429, { 'retry-after': '0', 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { message: 'slow down' } }))
        return
      }
      startSse(res)
      res.write(chunk({ delta: { content: 'after retry' }, finish_reason: 'stop' }))
      res.end('data: [DONE]\n\n')
    }
    const events = await collect(provider().stream(request()))
    assert.equal(upstream.requests.length, 2)
    assert.equal(text(events), 'after retry')
    assert.equal(events.filter((event) => event.type === 'finish').length, 1)
  })

  it('waits Retry-After when given, else an exponential backoff with jitter', async () => {
    upstream.script = (_req, res, attempt) => {
      if (attempt === 1) {
        res.writeHead(503, { 'retry-after': '2' })
        res.end()
      } else if (attempt === 2) {
        res.writeHead(500)
        res.end()
      } else {
        startSse(res)
        res.end(chunk({ delta: { content: 'third time' }, finish_reason: 'stop' }) + 'data: [DONE]\n\n')
      }
    }
    const clock = new ManualClock()
    const { delays, logger } = retryLog()
    const pending = collect(provider({ clock, logger, retryBaseMs: 400, random: () => 0.5 }).stream(request()))
    await until(() => delays.length === 1, 'the first retry')
    // attempt 0: Retry-After 2 s; attempt 1: ceiling 800 ms, half fixed + half jittered (0.5) = 600 ms.
    assert.deepEqual(delays, [2_000])
    await clock.advance(2_000 - 1)
    assert.equal(upstream.requests.length, 1, 'still waiting out Retry-After')
    await clock.advance(1)
    await until(() => delays.length === 2, 'the second retry')
    assert.deepEqual([delays[1], upstream.requests.length], [600, 2])
    await clock.advance(600)
    assert.equal(text(await pending), 'third time')
    assert.equal(upstream.requests.length, 3)
  })

  it('does not wait for a Retry-After beyond maxRetryAfterMs', async () => {
    upstream.script = (_req, res) => {
      res.writeHead(429, { 'retry-after': '120' })
      res.end()
    }
    await assert.rejects(collect(provider().stream(request())), (error: unknown) => error instanceof ProviderError && error.code === 'rate_limited')
    assert.equal(upstream.requests.length, 1)
  })

  it('gives up after maxRetries with a safe message and the upstream status', async () => {
    upstream.script = (_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: 'backend sk-live-SECRET exploded' } }))
    }
    const error = await collect(provider({ maxRetries: 2 }).stream(request())).then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    )
    assert.ok(error instanceof ProviderError)
    assert.equal(error.code, 'unavailable')
    assert.equal(error.upstreamStatus, 503)
    assert.doesNotMatch(error.message, /SECRET|exploded/)
    assert.equal(upstream.requests.length, 3)
  })

  it('does not retry a 400 and never shows its body', async () => {
    upstream.script = (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: 'Incorrect API key provided: sk-live-SECRET' } }))
    }
    await assert.rejects(collect(provider().stream(request())), (error: unknown) => {
      assert.ok(error instanceof ProviderError)
      assert.equal(error.code, 'bad_request')
      assert.doesNotMatch(error.message, /SECRET|Incorrect/)
      return true
    })
    assert.equal(upstream.requests.length, 1)
  })

  it('surfaces an error sent after the first token without retrying', async () => {
    upstream.script = (_req, res) => {
      startSse(res)
      res.write(chunk({ delta: { content: 'partial' } }))
      res.end(`data: ${JSON.stringify({ error: { message: 'internal sk-live-SECRET', type: 'server_error', code: 500 } })}\n\n`)
    }
    const seen: ProviderEvent[] = []
    const error = await (async () => {
      for await (const event of provider().stream(request())) seen.push(event)
    })().then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    )
    assert.deepEqual(seen, [{ type: 'text', delta: 'partial' }])
    assert.ok(error instanceof ProviderError)
    assert.equal(error.code, 'upstream_error')
    assert.equal(error.upstreamStatus, 500)
    assert.doesNotMatch(error.message, /SECRET|internal/)
    assert.equal(upstream.requests.length, 1)
  })

  it('surfaces a connection cut after the first token without retrying', async () => {
    upstream.script = async (_req, res) => {
      startSse(res)
      res.write(chunk({ delta: { content: 'partial' } }))
      await delay(20)
      res.socket?.destroy()
    }
    const seen: ProviderEvent[] = []
    await assert.rejects(
      (async () => {
        for await (const event of provider().stream(request())) seen.push(event)
      })(),
      (error: unknown) => error instanceof ProviderError && error.code === 'upstream_error',
    )
    assert.equal(text(seen), 'partial')
    assert.equal(upstream.requests.length, 1)
  })

  it('ends a stalled stream with a timeout error once the idle timeout passes', async () => {
    upstream.script = (_req, res) => {
      startSse(res)
      res.write(chunk({ delta: { content: 'then silence' } }))
    }
    const clock = new ManualClock()
    const events = provider({ clock, idleTimeoutMs: 2_000 }).stream(request())[Symbol.asyncIterator]()
    assert.deepEqual((await events.next()).value, { type: 'text', delta: 'then silence' })
    const rest = events.next()
    let settled = false
    rest.then(() => (settled = true), () => (settled = true))
    await until(() => clock.pending === 1, 'the wait for the next chunk')
    await clock.advance(2_000 - 1)
    assert.equal(settled, false)
    await clock.advance(1)
    await assert.rejects(rest, (error: unknown) => error instanceof ProviderError && error.code === 'timeout' && /stopped sending/.test(error.message))
    assert.equal(upstream.requests.length, 1, 'a timeout after the first token is not retried')
    await closedWithin(upstream, 1_000)
  })

  it('times out when the response headers never come', async () => {
    upstream.script = () => {}
    const clock = new ManualClock()
    let settled = false
    const pending = collect(provider({ clock, connectTimeoutMs: 2_000 }).stream(request())).finally(() => (settled = true))
    await until(() => upstream.requests.length === 1, 'the request to reach the upstream')
    await clock.advance(2_000 - 1)
    assert.equal(settled, false)
    await clock.advance(1)
    await assert.rejects(pending, (error: unknown) => error instanceof ProviderError && error.code === 'timeout' && /did not answer/.test(error.message))
    assert.equal(upstream.requests.length, 1)
    await closedWithin(upstream, 1_000)
  })

  it('closes the upstream connection within 1 s when the signal aborts mid-stream', async () => {
    upstream.script = (_req, res) => {
      startSse(res)
      res.write(chunk({ delta: { content: 'first' } }))
    }
    const controller = new AbortController()
    const stream = provider().stream(request({ signal: controller.signal }))
    const seen: ProviderEvent[] = []
    await assert.rejects(
      (async () => {
        for await (const event of stream) {
          seen.push(event)
          controller.abort()
        }
      })(),
      (error: unknown) => error instanceof DOMException && error.name === 'AbortError',
    )
    assert.equal(text(seen), 'first')
    await closedWithin(upstream, 1_000)
  })

  it('closes the upstream connection when the consumer stops reading early', async () => {
    upstream.script = (_req, res) => {
      startSse(res)
      res.write(chunk({ delta: { content: 'first' } }))
    }
    for await (const event of provider().stream(request())) {
      assert.equal(event.type, 'text')
      break
    }
    await closedWithin(upstream, 1_000)
  })

  it('rejects at once with an AbortError when the signal is already aborted', async () => {
    upstream.script = () => assert.fail('no request expected')
    const controller = new AbortController()
    controller.abort()
    await assert.rejects(collect(provider().stream(request({ signal: controller.signal }))), { name: 'AbortError' })
    assert.equal(upstream.requests.length, 0)
  })

  it('retries a refused connection, then reports the service unavailable', async () => {
    const closed = createServer()
    closed.listen(0, '127.0.0.1')
    await once(closed, 'listening')
    const { port } = closed.address() as AddressInfo
    closed.close()
    await once(closed, 'close')
    const { delays, logger } = retryLog()
    const refused = provider({ baseUrl: `http://127.0.0.1:${port}/v1`, logger })
    await assert.rejects(collect(refused.stream(request())), (error: unknown) => error instanceof ProviderError && error.code === 'unavailable')
    assert.equal(delays.length, 2, 'retried twice (maxRetries) before giving up')
  })
})

describe('OpenAI-compatible provider health check', () => {
  it('is named ai_service and passes when GET /models answers 200 with the key', async () => {
    upstream.script = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'gpt-test', object: 'model' }] }))
    }
    const health = provider().health
    assert.ok(health)
    assert.equal(health.name, 'ai_service')
    assert.equal(health.timeoutMs, 5_000)
    await health.check(new AbortController().signal)
    assert.equal(upstream.requests[0].method, 'GET')
    assert.equal(upstream.requests[0].url, '/v1/models')
    assert.equal(upstream.requests[0].headers.authorization, 'Bearer sk-test-key')
  })

  it('fails when the upstream answers an error', async () => {
    upstream.script = (_req, res) => {
      res.writeHead(500)
      res.end('down')
    }
    await assert.rejects(provider().health!.check(new AbortController().signal), /answered 500/)
  })

  it('stops waiting when the signal aborts', async () => {
    upstream.script = () => {}
    const controller = new AbortController()
    const check = provider().health!.check(controller.signal)
    await until(() => upstream.requests.length === 1, 'the probe to reach the upstream')
    controller.abort()
    await assert.rejects(check)
    await closedWithin(upstream, 1_000)
  })
})

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')
    assert.equal(parseRetryAfter('0', now), 0)
    assert.equal(parseRetryAfter('3', now), 3_000)
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', now), 10_000)
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now), 0, 'a date in the past means now')
    assert.equal(parseRetryAfter('soon', now), undefined)
    assert.equal(parseRetryAfter(null, now), undefined)
  })
})
