import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createWSMessageEvent } from 'hono/ws'
import { Registry } from 'prom-client'
import { fakeSocket } from '../../../test/helpers/ws-context.ts'
import { ManualClock } from '../../kernel/clock.ts'
import type { Connection } from './connection.ts'
import { Connections, type ConnectionsOptions } from './connections.ts'

function setup(overrides: Partial<ConnectionsOptions> = {}) {
  const clock = new ManualClock()
  const frames: string[] = []
  const gone: Connection[] = []
  const registry = new Registry()
  const connections = new Connections(
    {
      clock,
      registry,
      maxMessageSize: 1024,
      pingPeriod: 54_000,
      pongWait: 60_000,
      writeWait: 10_000,
      sendQueueSize: 256,
      maxBufferedBytes: 1_048_576,
      messagesPerSecond: 10,
      burst: 20,
      ...overrides,
    },
    { frame: (_connection, text) => void frames.push(text), closed: (connection) => void gone.push(connection) },
  )
  const open = () => {
    const socket = fakeSocket()
    const connection = connections.create('alice')
    connection.onOpen(new Event('open'), socket.ws)
    return { connection, ...socket }
  }
  return { clock, connections, registry, frames, gone, open }
}

describe('Connections', () => {
  it('pings an idle client with an app-level frame and closes it once silent for pong_wait', async () => {
    const { clock, connections, gone, open } = setup()
    const { connection, sent, closes } = open()
    await clock.advance(54_000)
    assert.deepEqual(sent, [{ type: 'ping' }])
    assert.equal(connections.size, 1)
    await clock.advance(54_000)
    assert.deepEqual(closes, [[1001, 'pong timeout']])
    assert.deepEqual(gone, [connection])
    assert.equal(connections.size, 0)
    assert.equal(clock.pending, 1, 'the sweep stopped with the last client; only the close deadline is left')
  })

  it('counts any frame from the client as alive', async () => {
    const { clock, connections, frames, open } = setup()
    const { connection, ws, closes } = open()
    await clock.advance(54_000)
    connection.onMessage(createWSMessageEvent('{"type":"pong"}'), ws)
    await clock.advance(54_000)
    assert.deepEqual(closes, [])
    assert.deepEqual(frames, ['{"type":"pong"}'])
    assert.equal(connections.size, 1)
  })

  it('destroys a closed peer that does not finish the close handshake within write_wait', async () => {
    const { clock, connections, open } = setup()
    const { connection, raw, closes } = open()
    connections.evict(connection, 1013, 'slow consumer')
    assert.deepEqual(closes, [[1013, 'slow consumer']])
    await clock.advance(10_000 - 1)
    assert.equal(raw.terminated, false)
    await clock.advance(1)
    assert.equal(raw.terminated, true)
  })

  it('closes a frame over the size limit with 1009 and answers frames over the bucket with rate_limited', async () => {
    const { clock, frames, open } = setup({ burst: 2, messagesPerSecond: 1 })
    const big = open()
    big.connection.onMessage(createWSMessageEvent('x'.repeat(1025)), big.ws)
    assert.deepEqual(big.closes, [[1009, 'message exceeds 1024 bytes']])
    const chatty = open()
    for (let i = 0; i < 3; i++) chatty.connection.onMessage(createWSMessageEvent(`${i}`), chatty.ws)
    assert.deepEqual(frames, ['0', '1'])
    assert.deepEqual(chatty.sent, [{ type: 'error', code: 'rate_limited', message: 'Too many messages; slow down' }])
    await clock.advance(1_000)
    chatty.connection.onMessage(createWSMessageEvent('3'), chatty.ws)
    assert.deepEqual(frames, ['0', '1', '3'])
  })

  it('closeAll closes every client with 1001, and refuseNew turns later sockets away', async () => {
    const { connections, registry, open } = setup()
    const clients = [open(), open()]
    assert.match(await registry.getSingleMetricAsString('ws_connections'), /^ws_connections 2$/m)
    assert.equal(connections.closeAll(), 2)
    for (const client of clients) assert.deepEqual(client.closes, [[1001, 'server shutting down']])
    connections.refuseNew()
    const late = open()
    assert.deepEqual(late.closes, [[1001, 'server shutting down']])
    assert.equal(connections.size, 0)
    assert.match(await registry.getSingleMetricAsString('ws_connections'), /^ws_connections 0$/m)
  })
})
