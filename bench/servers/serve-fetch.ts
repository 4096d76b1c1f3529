// Serves a fetch handler with the runtime's own server (`Bun.serve` or `Deno.serve`) on 127.0.0.1:$PORT,
// with no options beyond the address, so the bench measures each runtime's defaults.
// The slices of Bun's and Deno's APIs used here (their types are not part of this tsconfig).
declare const Bun: { serve(options: { hostname: string; port: number; fetch: (request: Request) => Response | Promise<Response> }): unknown } | undefined
declare const Deno:
  | { serve(options: { hostname: string; port: number; onListen: () => void }, handler: (request: Request) => Response | Promise<Response>): unknown }
  | undefined

export function serveFetch(fetch: (request: Request) => Response | Promise<Response>): void {
  const hostname = '127.0.0.1'
  const port = Number(process.env.PORT)
  if (typeof Bun !== 'undefined') Bun.serve({ hostname, port, fetch })
  else if (typeof Deno !== 'undefined') Deno.serve({ hostname, port, onListen: () => {} }, fetch)
  else throw new Error('serve-fetch.ts runs under Bun or Deno; Node has bench/servers/raw.ts and hono.ts')
}
