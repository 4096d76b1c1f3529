import type { JobEvent } from './jobs.ts'

/* The wire formats of a job's log on SSE: our own protocol and the AI SDK UI message stream. */

/** Turns job events into wire frames for one listener. */
export interface FrameFormatter {
  /** Written first, in the same write as the first events. */
  readonly open: string
  format(event: JobEvent): string
  /** Written after the terminal event. */
  readonly close: string
}

/** A `done` or `error` event: the last of a job's log. */
export function isTerminal(event: JobEvent): boolean {
  return event.type === 'done' || event.type === 'error'
}

/** Our own protocol: `event: <type>`, `id: <seq>`, `data: <json>`. */
export const eventStreamFormatter: FrameFormatter = {
  open: ': stream-open\n\n',
  format(event) {
    // JSON.stringify never emits a raw newline, so one `data:` line is always enough. Not cached on
    // the event: the log is retained for minutes, and keeping every frame there costs far more
    // (old-generation garbage collection) than formatting again for a rare second listener.
    if (event.type === 'message') return `event: message\nid: ${event.seq}\ndata: {"delta":${JSON.stringify(event.delta)}}\n\n`
    return `event: ${event.type}\nid: ${event.seq}\ndata: ${JSON.stringify(event.data)}\n\n`
  },
  close: '',
}

const chunk = (value: Record<string, unknown>) => `data: ${JSON.stringify(value)}\n\n`

/**
 * The AI SDK UI message stream (v1) for one listener: `start`, `start-step`, text and tool parts,
 * `finish-step`, `finish` (or `abort` / `error`), `[DONE]`. A step is one provider round; it ends
 * when tool results are followed by more output. Only chunk types `ai@6` accepts are emitted.
 * Behind a FrameWriter, text deltas queued for the same write arrive here as one merged `message`
 * event, so they become one `text-delta` chunk of the current text part (a merged run never spans
 * a tool call, so never two parts).
 */
export function uiMessageFormatter(messageId: string): FrameFormatter {
  let textId: string | null = null
  let texts = 0
  let afterToolResult = false

  function endText(): string {
    if (!textId) return ''
    const out = chunk({ type: 'text-end', id: textId })
    textId = null
    return out
  }

  function nextStep(): string {
    if (!afterToolResult) return ''
    afterToolResult = false
    return chunk({ type: 'finish-step' }) + chunk({ type: 'start-step' })
  }

  return {
    open: chunk({ type: 'start', messageId }) + chunk({ type: 'start-step' }),
    format(event) {
      if (event.type === 'message') {
        let out = nextStep()
        if (!textId) {
          textId = `text-${++texts}`
          out += chunk({ type: 'text-start', id: textId })
        }
        return out + chunk({ type: 'text-delta', id: textId, delta: event.delta })
      }
      const data = event.data
      switch (event.type) {
        case 'tool_call':
          return nextStep() + endText() + chunk({ type: 'tool-input-available', toolCallId: data.id, toolName: data.name, input: data.arguments ?? {} })
        case 'tool_result':
          afterToolResult = true
          return data.error
            ? chunk({ type: 'tool-output-error', toolCallId: data.id, errorText: (data.error as { detail: string }).detail })
            : chunk({ type: 'tool-output-available', toolCallId: data.id, output: data.result ?? null })
        case 'done': {
          const out = endText() + chunk({ type: 'finish-step' })
          if (data.status === 'stopped') return out + chunk({ type: 'abort', reason: 'stopped' })
          const { status: _status, ...metadata } = data
          return out + chunk({ type: 'finish', finishReason: 'stop', messageMetadata: metadata })
        }
        case 'error':
          return endText() + chunk({ type: 'error', errorText: String(data.detail ?? data.title ?? 'The reply failed') })
      }
    },
    close: 'data: [DONE]\n\n',
  }
}
