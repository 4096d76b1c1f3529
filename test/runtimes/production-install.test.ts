import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { SseStream } from '../e2e/sse.ts'
import { copyOf, finalStage, healthcheckArgv, parseDockerfile } from '../helpers/dockerfile.ts'
import { userEnv } from '../helpers/fresh.ts'
import { startServerProcess, type ServerProcess } from '../helpers/process.ts'
import { ROOT, runScript } from '../helpers/runtimes.ts'

const run = promisify(execFile)

/** The project's Node 24 (the `node` devDependency), which the image's `node` stands for. */
const NODE24 = join(ROOT, 'node_modules/.bin/node')

/**
 * The Dockerfile's runtime stage replayed without Docker, in a directory that is not the checkout:
 * its COPY instructions (the build stage's dist/ and public/ come from the same build scripts), its
 * `npm ci --omit=dev`, its ENV, then its CMD. Only production dependencies are installed there and no
 * node_modules above it can help, so a runtime import that only a devDependency provides fails here
 * as it does in the image (`ERR_MODULE_NOT_FOUND`). Returns the directory and the CMD.
 */
async function replayRuntimeStage(): Promise<{ dir: string; cmd: string[]; env: Record<string, string> }> {
  const dir = mkdtempSync(join(tmpdir(), 'assistant-production-'))
  const env: Record<string, string> = {}
  let cmd: string[] | undefined
  for (const instruction of finalStage(parseDockerfile())) {
    const { keyword, args } = instruction
    if (keyword === 'COPY') {
      const { from, sources, destination } = copyOf(instruction)
      if (from) {
        // The build stage's output: `npm run build` in /app writes /app/dist and the widget bundle in /app/public.
        assert.equal(sources.length, 1)
        if (sources[0] === '/app/public') {
          const { code, output } = await runScript('build:widget')
          assert.equal(code, 0, output)
          cpSync(join(ROOT, 'public'), join(dir, destination), { recursive: true })
          continue
        }
        assert.deepEqual(sources, ['/app/dist'], `COPY --from=${from}: only the build output is replayed`)
        const { code, output } = await runScript('build', [['dist/node.js', join(dir, destination, 'node.js')]])
        assert.equal(code, 0, output)
        continue
      }
      for (const source of sources) {
        const target = destination.endsWith('/') ? join(dir, destination, source) : join(dir, destination)
        cpSync(join(ROOT, source), target, { recursive: true })
      }
    } else if (keyword === 'RUN') {
      for (const command of args.split('&&').map((part) => part.trim())) {
        // The npm cache is this machine's (shared): the image's `npm cache clean` is not replayed.
        if (/^npm cache clean\b/.test(command)) continue
        assert.match(command, /^npm ci\b.*--omit=dev/, `RUN ${command}: only the production install is replayed`)
        // The registry mirror answers what the cache lacks; --prefer-offline keeps it to that.
        await run('npm', [...command.split(/\s+/).slice(1), '--prefer-offline'], { cwd: dir, env: userEnv(), maxBuffer: 1 << 24 })
      }
    } else if (keyword === 'ENV') {
      for (const pair of args.split(/\s+/)) {
        const [name, value] = pair.split('=')
        env[name] = value
      }
    } else if (keyword === 'CMD') {
      cmd = JSON.parse(args)
    }
  }
  assert.ok(cmd, 'the runtime stage has a CMD')
  return { dir, cmd, env }
}

describe('production install (the Dockerfile runtime stage, replayed)', () => {
  let dir: string | undefined
  let server: ServerProcess | undefined
  let key = ''

  before(async () => {
    const stage = await replayRuntimeStage()
    dir = stage.dir
    assert.equal(stage.cmd[0], 'node')
    // Every setting at its default except where it listens: loopback, a free port (PORT=0 logs the real one).
    server = await startServerProcess({
      argv: [NODE24, ...stage.cmd.slice(1)],
      cwd: dir,
      env: { ...stage.env, HOST: '127.0.0.1', PORT: '0' },
      timeoutMs: 30_000,
    })
    key = /development key for this run \(user "dev"\): (\S+)/.exec(server.stderr())?.[1] ?? ''
  })

  after(async () => {
    await server?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  const base = () => `http://127.0.0.1:${server!.port}`
  const auth = () => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' })

  it('has only production dependencies installed, ws among them', () => {
    assert.ok(existsSync(join(dir!, 'node_modules/ws/package.json')), 'ws is a dependency')
    for (const devOnly of ['esbuild', 'typescript', 'wrangler', 'ai']) assert.ok(!existsSync(join(dir!, 'node_modules', devOnly)), `${devOnly} is not installed`)
  })

  it('serves /health and shows the generated development key on stderr', async () => {
    assert.match(key, /^dev_\S{16,}$/, `no development key on stderr:\n${server!.stderr()}`)
    const res = await fetch(`${base()}/health`)
    assert.equal(res.status, 200)
    assert.equal((await res.json()).status, 'healthy')
  })

  it('serves the widget page and the bundle it loads, without widget/ sources or a build tool', async () => {
    assert.ok(!existsSync(join(dir!, 'widget')), 'the image holds the bundle, not its sources')
    const page = await fetch(`${base()}/`)
    assert.equal(page.status, 200)
    const html = await page.text()
    const [, script] = /<script src="([^"]+)"/.exec(html) ?? []
    assert.equal(script, '/assets/widget.js')
    const bundle = await fetch(base() + script)
    assert.equal(bundle.status, 200)
    assert.match(bundle.headers.get('content-type') ?? '', /javascript/)
    assert.ok((await bundle.text()).length > 50_000, 'the bundle with marked, DOMPurify and highlight.js')
  })

  it('answers a JSON chat', async () => {
    const res = await fetch(`${base()}/api/v1/chat`, { method: 'POST', headers: auth(), body: JSON.stringify({ message: 'hello production' }) })
    assert.equal(res.status, 200)
    const body = await res.json()
    assert.match(body.message, /hello production/)
    assert.equal(body.status, 'complete')
  })

  it('streams an SSE chat to done', async () => {
    const stream = await SseStream.open({ baseUrl: base() } as never, '/api/v1/chat/stream', {
      method: 'POST',
      headers: auth(),
      body: JSON.stringify({ message: 'hello stream' }),
    })
    assert.equal(stream.status, 200)
    const frames = await stream.rest()
    assert.equal(frames.at(-1)?.event, 'done', JSON.stringify(frames.at(-1)))
    assert.match(frames.filter((f) => f.event === 'message').map((f) => f.data.delta).join(''), /hello stream/)
  })

  it('chats over a WebSocket to done', async () => {
    const ws = new WebSocket(`${base().replace('http', 'ws')}/ws?token=${encodeURIComponent(key)}`)
    const frames: Record<string, any>[] = []
    const finished = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no done within 15 s: ${JSON.stringify(frames.slice(-3))}`)), 15_000)
      ws.onopen = () => ws.send(JSON.stringify({ type: 'chat', request_id: 'prod-1', message: 'hello socket' }))
      ws.onmessage = (event) => {
        const frame = JSON.parse(String(event.data))
        frames.push(frame)
        if (frame.type === 'done' || frame.type === 'error') (clearTimeout(timer), resolve())
      }
      ws.onerror = () => (clearTimeout(timer), reject(new Error('the WebSocket failed')))
    })
    try {
      await finished
    } finally {
      ws.close()
    }
    assert.equal(frames.at(-1)!.type, 'done', JSON.stringify(frames.at(-1)))
    assert.match(frames.filter((f) => f.type === 'delta').map((f) => f.delta).join(''), /hello socket/)
  })

  it("the image's HEALTHCHECK command passes against it", async () => {
    const [binary, ...args] = healthcheckArgv(parseDockerfile())
    assert.equal(binary, 'node')
    const { stdout, stderr } = await run(NODE24, args, { cwd: dir, env: userEnv({ PORT: String(server!.port) }), timeout: 10_000 })
    assert.equal(stdout + stderr, '')
  })

  it('logs at info by default and drains on SIGTERM with exit code 0', async () => {
    assert.ok(server!.lines.some((line) => line.msg === 'listening' && line.level === 30), 'the listening line is logged at info')
    server!.child.kill('SIGTERM')
    assert.equal(await server!.exited, 0, server!.stderr())
  })
})
