import ipaddr from 'ipaddr.js'

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number]

/** Parses a list of CIDR ranges (or single addresses) once. */
export function parseRanges(list: string[]): Range[] {
  return list.map((entry) => {
    if (entry.includes('/')) return ipaddr.parseCIDR(entry)
    const address = ipaddr.parse(entry)
    return [address, address.kind() === 'ipv4' ? 32 : 128]
  })
}

function normalise(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  try {
    return ipaddr.process(text.trim().replace(/^\[|\]$/g, ''))
  } catch {
    return null
  }
}

function isTrusted(address: ipaddr.IPv4 | ipaddr.IPv6, ranges: Range[]): boolean {
  for (const [range, bits] of ranges) {
    if (address.kind() === range.kind() && address.match(range as never, bits)) return true
  }
  return false
}

/**
 * The client's address: the socket peer, unless the peer is a trusted proxy, in which case the
 * right-most `X-Forwarded-For` entry that is not itself a trusted proxy. Entries a client adds on the
 * left are never used, so rotating the header buys nothing.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | null, trusted: Range[]): string {
  if (!peer) return 'unknown'
  const peerAddress = normalise(peer)
  if (!peerAddress) return peer
  if (trusted.length === 0 || !forwardedFor || !isTrusted(peerAddress, trusted)) return peerAddress.toString()
  const hops = forwardedFor.split(',')
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalise(hops[i])
    if (!hop) return peerAddress.toString()
    if (!isTrusted(hop, trusted)) return hop.toString()
  }
  return peerAddress.toString()
}

/** Whether the socket peer is one of the trusted proxies, whose forwarding headers are believed. */
export function isTrustedPeer(peer: string | undefined, trusted: Range[]): boolean {
  if (!peer || trusted.length === 0) return false
  const address = normalise(peer)
  return address !== null && isTrusted(address, trusted)
}
