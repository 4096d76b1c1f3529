const UNSUPPORTED = Symbol('unsupported')
/** Deeper than this is unusual for stored data, and may be a cycle: left to `structuredClone`. */
const MAX_DEPTH = 32

function clonePlain(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? UNSUPPORTED : value
  if (depth > MAX_DEPTH) return UNSUPPORTED
  if (Array.isArray(value)) {
    const out = new Array(value.length)
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return UNSUPPORTED
      const item = clonePlain(value[i], depth + 1)
      if (item === UNSUPPORTED) return UNSUPPORTED
      out[i] = item
    }
    return out
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return UNSUPPORTED
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    const item = clonePlain((value as Record<string, unknown>)[key], depth + 1)
    if (item === UNSUPPORTED) return UNSUPPORTED
    out[key] = item
  }
  return out
}

/**
 * A deep copy, as `structuredClone` makes, of what the memory stores hold. Plain objects, arrays and
 * primitives (JSON-like data: nearly all of it) are copied directly, several times faster than
 * `structuredClone`, which gets everything else (dates, maps, cycles…) and throws where it throws.
 */
export function cloneData<T>(value: T): T {
  const copy = clonePlain(value, 0)
  return copy === UNSUPPORTED ? structuredClone(value) : (copy as T)
}
