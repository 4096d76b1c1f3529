import type { Principal } from '../../env.ts'

export interface AuthSettings {
  mode: 'api_key' | 'none'
  api_keys: { user: string; sha256: string }[]
}

/** Verified keys are remembered (bounded) so the per-request cost is a map lookup, not a digest. */
const CACHE_LIMIT = 1024

const ANONYMOUS: Principal = Object.freeze({ id: 'anonymous' })

/**
 * Verifies `Authorization: Bearer <key>` against SHA-256 digests of the configured keys.
 * The presented key is hashed, the digest looked up, and the bytes compared in constant time.
 */
export class Authenticator {
  readonly mode: AuthSettings['mode']
  readonly #byDigest = new Map<string, { user: string; digest: Uint8Array }>()
  readonly #verified = new Map<string, Principal>()
  /** Whole `Authorization` values already verified, so a repeat costs one map lookup and no promise. */
  readonly #verifiedHeaders = new Map<string, Principal>()

  constructor(settings: AuthSettings) {
    this.mode = settings.mode
    for (const { user, sha256 } of settings.api_keys) this.addDigest(user, sha256)
  }

  get keyCount(): number {
    return this.#byDigest.size
  }

  addDigest(user: string, sha256: string): void {
    this.#byDigest.set(sha256, { user, digest: fromHex(sha256) })
    this.#verified.clear()
    this.#verifiedHeaders.clear()
  }

  /** Adds a random key for `user` and returns it; used for the development key when none is configured. */
  async generateKey(user = 'dev'): Promise<string> {
    const bytes = crypto.getRandomValues(new Uint8Array(24))
    const key = `dev_${btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, (ch) => (ch === '+' ? '-' : ch === '/' ? '_' : ''))}`
    this.addDigest(user, toHex(await digest(key)))
    return key
  }

  /**
   * The principal for an `Authorization` value verified before (or any value when auth is off),
   * synchronously; null when there is no `Authorization` at all; `undefined` when it has to go
   * through `verify()`.
   */
  cached(authorization: string | null | undefined): Principal | null | undefined {
    if (this.mode === 'none') return ANONYMOUS
    return authorization ? this.#verifiedHeaders.get(authorization) : null
  }

  /** The principal for an `Authorization` header value, or null. Never throws for client input. */
  async verify(authorization: string | null | undefined): Promise<Principal | null> {
    if (this.mode === 'none') return ANONYMOUS
    const key = bearerToken(authorization)
    const principal = key === null ? null : await this.verifyKey(key)
    if (principal && authorization) {
      if (this.#verifiedHeaders.size >= CACHE_LIMIT) this.#verifiedHeaders.clear()
      this.#verifiedHeaders.set(authorization, principal)
    }
    return principal
  }

  async verifyKey(key: string): Promise<Principal | null> {
    if (key.length === 0 || key.length > 512) return null
    const known = this.#verified.get(key)
    if (known) return known
    const presented = await digest(key)
    const entry = this.#byDigest.get(toHex(presented))
    if (!entry || !constantTimeEqual(presented, entry.digest)) return null
    const principal: Principal = { id: entry.user }
    if (this.#verified.size >= CACHE_LIMIT) this.#verified.clear()
    this.#verified.set(key, principal)
    return principal
  }
}

export function bearerToken(authorization: string | null | undefined): string | null {
  if (!authorization) return null
  const match = /^Bearer[ \t]+([A-Za-z0-9._~+/=-]+)[ \t]*$/i.exec(authorization)
  return match ? match[1] : null
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i]
  return diff === 0
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

function toHex(bytes: Uint8Array): string {
  let out = ''
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0')
  return out
}
