/**
 * A V8 CPU profile of a running process taken over its inspector (Chrome DevTools Protocol), for
 * runtimes whose CLI has no `--cpu-prof` (Deno 2.9). The process must have been started with
 * `--inspect=127.0.0.1:<port>`; the profile is the same `.cpuprofile` JSON `node --cpu-prof` writes.
 */
import { writeFileSync } from 'node:fs'

export interface InspectorProfiler {
  start(): Promise<void>
  /** Stops profiling and writes the profile to `file`. */
  stop(file: string): Promise<void>
}

export function inspectorProfiler(port: number): InspectorProfiler {
  let socket: WebSocket | undefined
  let nextId = 1
  const pending = new Map<number, (result: any) => void>()
  const send = (method: string, params: object = {}) =>
    new Promise<any>((resolve, reject) => {
      const id = nextId++
      const timer = setTimeout(() => reject(new Error(`inspector: no answer to ${method} within 30 s`)), 30_000)
      pending.set(id, (result) => {
        clearTimeout(timer)
        resolve(result)
      })
      socket!.send(JSON.stringify({ id, method, params }))
    })
  return {
    async start() {
      const [target] = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[]
      socket = new WebSocket(target.webSocketDebuggerUrl)
      socket.onmessage = (event) => {
        const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown }
        if (message.id !== undefined) pending.get(message.id)?.(message.result)
      }
      await new Promise((resolve, reject) => {
        socket!.onopen = resolve
        socket!.onerror = reject
      })
      await send('Profiler.enable')
      // 1 ms, like --cpu-prof's default interval.
      await send('Profiler.setSamplingInterval', { interval: 1000 })
      await send('Profiler.start')
    },
    async stop(file) {
      const { profile } = await send('Profiler.stop')
      writeFileSync(file, JSON.stringify(profile))
      socket!.close()
    },
  }
}
