import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { eventStreamFormatter, uiMessageFormatter } from './formatters.ts'
import type { JobEvent } from './jobs.ts'

describe('formatters', () => {
  it('formats an event frame with one data line', () => {
    const event: JobEvent = { seq: 7, type: 'message', delta: 'line\nbreak' }
    assert.equal(eventStreamFormatter.format(event), 'event: message\nid: 7\ndata: {"delta":"line\\nbreak"}\n\n')
  })

  it('opens and closes text parts around tools in the UI protocol', () => {
    const ui = uiMessageFormatter('m1')
    const out = [
      ui.open,
      ui.format({ seq: 1, type: 'message', delta: 'a' }),
      ui.format({ seq: 2, type: 'tool_call', data: { id: 't', name: 'x', arguments: {} } }),
      ui.format({ seq: 3, type: 'tool_result', data: { id: 't', name: 'x', error: { status: 500, detail: 'The tool failed' } } }),
      ui.format({ seq: 4, type: 'error', data: { status: 502, detail: 'boom' } }),
      ui.close,
    ].join('')
    const types = [...out.matchAll(/"type":"([^"]+)"/g)].map((m) => m[1])
    assert.deepEqual(types, ['start', 'start-step', 'text-start', 'text-delta', 'text-end', 'tool-input-available', 'tool-output-error', 'error'])
    assert.ok(out.endsWith('data: [DONE]\n\n'))
  })
})
