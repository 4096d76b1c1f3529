import { z } from 'zod'

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1_000,
  mb: 1_000_000,
  gb: 1_000_000_000,
  kib: 1_024,
  mib: 1_048_576,
  gib: 1_073_741_824,
}

/** Milliseconds from `500ms`, `30s`, `2m`, `1h`, `1m30s`, or a bare number of milliseconds. */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : undefined
  const text = input.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text)
  const parts = text.match(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)
  if (!parts || parts.join('') !== text) return undefined
  let total = 0
  for (const part of parts) {
    const [, value, unit] = part.match(/^(\d+(?:\.\d+)?)(ms|s|m|h)$/)!
    total += Number(value) * DURATION_UNITS[unit]
  }
  return total
}

/** Bytes from `10MiB`, `64KB`, `1048576`. */
export function parseSize(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isInteger(input) && input >= 0 ? input : undefined
  const match = input.trim().match(/^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/)
  if (!match) return undefined
  const factor = SIZE_UNITS[(match[2] || 'b').toLowerCase()]
  return factor === undefined ? undefined : Math.floor(Number(match[1]) * factor)
}

export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value)
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(value)} (use e.g. 500ms, 30s, 2m)` })
    return z.NEVER
  }
  return ms
})

export const size = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const bytes = parseSize(value)
  if (bytes === undefined || bytes <= 0) {
    ctx.addIssue({ code: 'custom', message: `invalid size ${JSON.stringify(value)} (use e.g. 1048576, 64KiB, 10MiB)` })
    return z.NEVER
  }
  return bytes
})
