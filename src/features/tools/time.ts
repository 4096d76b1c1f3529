import { z } from 'zod'
import type { WallClock } from '../../kernel/clock.ts'
import type { Tool } from './registry.ts'

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value })
    return true
  } catch {
    return false
  }
}

const currentTimeSchema = z.strictObject({
  timezone: z
    .string()
    .max(64)
    .refine(isTimeZone, { message: 'expected an IANA time zone such as Europe/Paris or UTC' })
    .optional()
    .describe('IANA time zone, e.g. "Europe/Paris"; default UTC'),
})

/** `2026-01-02 03:04:05` and `+01:00` for an instant in a time zone. */
function localTime(date: Date, timeZone: string): { local: string; offset: string } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'longOffset',
  }).formatToParts(date)
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? ''
  const zoneName = part('timeZoneName') // "GMT+05:30", or "GMT" at UTC
  const offset = zoneName === 'GMT' ? '+00:00' : zoneName.replace('GMT', '')
  return { local: `${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')}:${part('second')}`, offset }
}

export function currentTimeTool(clock: WallClock): Tool<typeof currentTimeSchema> {
  return {
    name: 'current_time',
    description: 'Returns the current date and time, in UTC or in the given IANA time zone.',
    schema: currentTimeSchema,
    async handler({ timezone }) {
      const now = new Date(clock.now())
      const timeZone = timezone ?? 'UTC'
      const { local, offset } = localTime(now, timeZone)
      return { timezone: timeZone, utc: now.toISOString(), local, utc_offset: offset, unix_ms: now.getTime() }
    },
  }
}
