import assert from 'node:assert/strict'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import pino from 'pino'
import { LogSink } from './log-sink.ts'

const dir = mkdtempSync(join(tmpdir(), 'log-sink-'))
after(() => rmSync(dir, { recursive: true, force: true }))

function sinkOnFile(options: { bufferSize?: number; flushIntervalMs?: number } = {}) {
  const path = join(dir, `${Math.random()}.log`)
  const fd = openSync(path, 'w')
  const sink = new LogSink({ fd, ...options })
  return { sink, read: () => readFileSync(path, 'utf8'), close: () => closeSync(fd) }
}

describe('LogSink', () => {
  it('holds lines until the buffer fills, then writes them all at once', () => {
    const { sink, read, close } = sinkOnFile({ bufferSize: 20, flushIntervalMs: 60_000 })
    sink.write('0123456789\n')
    assert.equal(read(), '')
    sink.write('abcdefghij\n')
    assert.equal(read(), '0123456789\nabcdefghij\n')
    sink.flushSync()
    close()
  })

  it('writes pending lines after the flush interval', async () => {
    const { sink, read, close } = sinkOnFile({ flushIntervalMs: 20 })
    sink.write('later\n')
    assert.equal(read(), '')
    for (let i = 0; i < 50 && read() === ''; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.equal(read(), 'later\n')
    close()
  })

  it('writes multi-byte text whole and flushes through pino', () => {
    const { sink, read, close } = sinkOnFile({ flushIntervalMs: 60_000 })
    const logger = pino({ base: null, timestamp: false }, sink)
    logger.info({ name: 'é ☃ 😀' }, 'hello')
    assert.equal(read(), '')
    let flushed = false
    logger.flush(() => (flushed = true))
    assert.equal(flushed, true)
    assert.deepEqual(JSON.parse(read()), { level: 30, name: 'é ☃ 😀', msg: 'hello' })
    close()
  })

  it('drops lines instead of throwing when the descriptor is gone', () => {
    const { sink, close } = sinkOnFile({ bufferSize: 4, flushIntervalMs: 60_000 })
    close()
    assert.doesNotThrow(() => sink.write('lost line\n'))
    assert.throws(() => {
      sink.write('x')
      sink.flushSync()
    })
  })
})
