// (a) raw node:http: the ceiling for this machine.
import { createServer } from 'node:http'

const body = JSON.stringify({ data: [], next_cursor: null })
const length = String(Buffer.byteLength(body))
createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': length })
  res.end(body)
}).listen(Number(process.env.PORT), '127.0.0.1')
// Exit normally on SIGINT so `node --cpu-prof` writes its profile.
process.on('SIGINT', () => process.exit(0))
