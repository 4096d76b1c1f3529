// (a) on Bun and Deno: the runtime's raw server (`Bun.serve`, `Deno.serve`), the ceiling for this machine.
import { serveFetch } from './serve-fetch.ts'

const body = JSON.stringify({ data: [], next_cursor: null })
serveFetch(() => new Response(body, { headers: { 'content-type': 'application/json' } }))
