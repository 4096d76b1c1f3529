/**
 * Where a request's CPU goes, from a V8 `.cpuprofile` (`node --cpu-prof`): each sample is charged
 * to the innermost middleware stage on its stack (so a middleware's share excludes the ones it wraps),
 * else to the handler, @hono/node-server, Hono's core, or Node itself. Used by `bench/http.ts --profile`.
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string }
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  startTime: number
  endTime: number
}

function classify(node: ProfileNode): string | null {
  const { functionName: name, url } = node.callFrame
  // Each middleware's stage hooks live in its folder; the pipeline runs them.
  const folder = /\/src\/middleware\/([a-z-]+)\//.exec(url)
  if (folder) return `middleware: ${folder[1]}`
  if (/Middleware$/.test(name)) return name
  // Library code that runs after an `await`, so no middleware frame is on its stack.
  if (url.includes('prom-client')) return 'middleware: metrics'
  if (url.includes('/pino/') || url.includes('/sonic-boom/')) return 'middleware: access-log'
  if (url.includes('@opentelemetry')) return 'middleware: tracing'
  if (url.includes('/src/observability/')) return 'src/observability helpers'
  if (url.includes('node:internal/modules') || name === 'compileSourceTextModule' || name === 'wrapSafe') return 'start-up (module loading)'
  if (url.includes('/src/features/') || url.includes('/src/http/response')) return 'handler + send()'
  if (url.includes('@hono/node-server')) return '@hono/node-server'
  return null
}

function load(file: string) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const perSample = (profile.endTime - profile.startTime) / profile.samples.length
  const ownerOf = (id: number): string => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const owner = classify(byId.get(cur)!)
      if (owner !== null) return owner
    }
    const { functionName, url } = byId.get(id)!.callFrame
    return functionName.startsWith('(') ? functionName : url.includes('/hono/dist/') ? 'hono core' : 'node (http, net, timers)'
  }
  return { profile, byId, perSample, ownerOf }
}

/** µs of busy CPU per request by owner, largest first. */
export function costPerRequest(file: string, requests: number): { total: number; rows: [string, number][] } {
  const { profile, perSample, ownerOf } = load(file)
  const owners = new Map<string, number>()
  let busy = 0
  for (const id of profile.samples) {
    const owner = ownerOf(id)
    if (owner === '(idle)') continue
    busy++
    owners.set(owner, (owners.get(owner) ?? 0) + 1)
  }
  const rows = [...owners].map(([owner, count]) => [owner, (count * perSample) / requests] as [string, number])
  return { total: (busy * perSample) / requests, rows: rows.sort((x, y) => y[1] - x[1]) }
}

/** Leaf functions (self time) under one owner, for drilling into it. */
export function leavesUnder(file: string, requests: number, ownerName: string): [string, number][] {
  const { profile, byId, perSample, ownerOf } = load(file)
  const leaves = new Map<string, number>()
  for (const id of profile.samples) {
    if (ownerOf(id) !== ownerName) continue
    const frame = byId.get(id)!.callFrame
    const name = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*node_modules\//, '').replace(/^.*\/src\//, 'src/')}`
    leaves.set(name, (leaves.get(name) ?? 0) + 1)
  }
  return [...leaves].map(([name, count]) => [name, (count * perSample) / requests] as [string, number]).sort((x, y) => y[1] - x[1])
}
