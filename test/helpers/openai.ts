import OpenAI from 'openai'
import type { App } from '../../src/app.ts'

/**
 * The official `openai` SDK talking to `app` in-process: its own `fetch` hands each request to
 * `app.request()`. No retries, so every error the SDK raises comes from one of our responses.
 */
export function sdkClient(app: App, apiKey: string, options: { headers?: Record<string, string> } = {}): OpenAI {
  return new OpenAI({
    baseURL: 'http://assistant.test/v1',
    apiKey,
    maxRetries: 0,
    timeout: 20_000,
    defaultHeaders: options.headers,
    fetch: (url, init) => app.request(String(url), init as RequestInit) as Promise<Response>,
  })
}

/** The `data:` payloads of an SSE body, in order (`[DONE]` as the string). */
export async function ssePayloads(res: Response): Promise<unknown[]> {
  const text = await res.text()
  return text
    .split('\n\n')
    .filter((frame) => frame.startsWith('data: '))
    .map((frame) => {
      const data = frame.slice('data: '.length)
      return data === '[DONE]' ? data : JSON.parse(data)
    })
}

/** A client tool as OpenAI's SDK declares it. */
export const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
}
