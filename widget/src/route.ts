// The open conversation lives in the URL fragment: `#/c/<id>`; `#/` (or nothing) is a new chat.

export function conversationInHash(hash = location.hash): string | null {
  const match = /^#\/c\/([^/?#]+)$/.exec(hash)
  if (!match) return null
  try {
    return decodeURIComponent(match[1])
  } catch {
    return null
  }
}

export const hashOf = (conversationId: string | null) => (conversationId ? `#/c/${encodeURIComponent(conversationId)}` : '#/')

/** A new history entry (back returns to the previous conversation). */
export function goTo(conversationId: string | null): void {
  const hash = hashOf(conversationId)
  if (location.hash !== hash) location.hash = hash
}

/** The same history entry, renamed: a new chat that just got its id. */
export function replaceWith(conversationId: string | null): void {
  history.replaceState(history.state, '', hashOf(conversationId))
}
