import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync, rmSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { LogSink } from './log-sink.ts'

const NODE = process.execPath
const SINK = new URL('./log-sink.ts', import.meta.url).pathname

/** Runs `body` in a child whose stdout is a pipe the test controls; the child reports on stderr. */
function child(body: string) {
  const script = `import { LogSink } from ${JSON.stringify(SINK)}\n${body}`
  return spawn(NODE, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
}

describe('LogSink', () => {
  const dir = mkdtempSync(join(tmpdir(), 'log-sink-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('writes every line in order, the lines of one turn in one write, and says when it is done', async () => {
    const path = join(dir, 'ordered.log')
    const fd = openSync(path, 'w')
    const sink = new LogSink({ fd })
    for (let i = 0; i < 1000; i++) sink.write(`line ${i}\n`)
    await new Promise<void>((resolve) => sink.flush(resolve))
    closeSync(fd)
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n')
    assert.equal(lines.length, 1000)
    assert.deepEqual(lines.slice(0, 2), ['line 0', 'line 1'])
    assert.equal(lines.at(-1), 'line 999')
  })

  it('writes what is queued synchronously on flushSync (for exit)', () => {
    const path = join(dir, 'sync.log')
    const fd = openSync(path, 'w')
    const sink = new LogSink({ fd })
    sink.write('é first\n')
    sink.write('second\n')
    sink.flushSync()
    closeSync(fd)
    assert.equal(readFileSync(path, 'utf8'), 'é first\nsecond\n')
  })

  it('drops lines past its bound instead of growing', () => {
    const sink = new LogSink({ fd: openSync('/dev/null', 'w'), maxPendingBytes: 100 })
    assert.equal(sink.write('x'.repeat(60)), true)
    assert.equal(sink.write('x'.repeat(60)), false)
  })

  it('keeps the process running when stdout is a closed pipe (EPIPE), saying so once', async () => {
    const proc = child(`
      const sink = new LogSink()
      let ticks = 0
      const timer = setInterval(() => {
        for (let i = 0; i < 50; i++) sink.write('a log line that nobody reads\\n')
        if (++ticks === 40) { clearInterval(timer); process.stderr.write('alive after ' + ticks + ' ticks\\n') }
      }, 5)
    `)
    let stderr = ''
    proc.stderr.on('data', (chunk) => (stderr += chunk))
    proc.stdout.destroy()
    const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve))
    assert.equal(code, 0, stderr)
    assert.match(stderr, /alive after 40 ticks/)
    assert.equal(stderr.match(/writing logs failed \(EPIPE\)/g)?.length, 1, stderr)
  })

  it('never blocks the event loop on a stdout nobody reads', async () => {
    const proc = child(`
      const sink = new LogSink({ maxPendingBytes: 1024 * 1024 })
      let worst = 0, last = performance.now(), ticks = 0
      const timer = setInterval(() => {
        const now = performance.now(); worst = Math.max(worst, now - last); last = now
        for (let i = 0; i < 200; i++) sink.write('x'.repeat(200) + '\\n')
        if (++ticks === 100) { clearInterval(timer); process.stderr.write(JSON.stringify({ worst, ticks }) + '\\n') }
      }, 2)
    `)
    // stdout is a pipe that is not read until the child has reported: its 64 KiB buffer fills within
    // a few ticks, and a write that blocked the event loop would stall every tick after that.
    proc.stdout.pause()
    let stderr = ''
    const reported = new Promise<void>((resolve) => proc.stderr.on('data', (chunk) => {
      stderr += chunk
      if (stderr.includes('}')) resolve()
    }))
    await reported
    const report = JSON.parse(stderr.trim().split('\n').at(-1)!)
    assert.equal(report.ticks, 100)
    assert.ok(report.worst < 1000, `worst gap between ticks ${report.worst} ms`)
    // Now read it: the queued lines drain and the child exits.
    proc.stdout.resume()
    const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve))
    assert.equal(code, 0, stderr)
  })
})
