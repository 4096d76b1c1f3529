/**
 * The id a create with an `Idempotency-Key` gets: the same for the same user and key, so a create
 * retried after an answer that never arrived (or a 503 of unknown outcome) finds the first one instead
 * of making a second. SHA-256 over user and key, so keys of different users never meet.
 */
export async function idempotentId(userId: string, key: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${userId}\u0000${key}`))
  const hex = [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('')
  return `idem-${hex.slice(0, 40)}`
}
