import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { builtinModules } from 'node:module'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { after, describe, it } from 'node:test'
import { build, type Metafile } from 'esbuild'
import { parse as parseYaml } from 'yaml'
import { testApp } from '../helpers/app.ts'
import { healthcheckArgv, parseDockerfile } from '../helpers/dockerfile.ts'
import { freePort, ROOT, runScript } from '../helpers/runtimes.ts'

// No Docker engine runs here, so these tests check what a build would rely on: the files it copies,
// the build it runs, the file it starts, the user it runs as and the URL its health check probes.

/** `.dockerignore` patterns (top-level names and simple globs are all this repo uses). */
function ignored(patterns: string[], path: string): boolean {
  const first = path.replace(/^\.\//, '').split('/')[0]
  return patterns.some((pattern) => {
    const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`)
    return regex.test(first) || regex.test(path)
  })
}

const dockerfile = parseDockerfile()
const stages = [...new Set(dockerfile.map((i) => i.stage))]
const finalStage = stages.at(-1)!
const inFinal = dockerfile.filter((i) => i.stage === finalStage)
const dockerignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'))
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
const execForm = (args: string): string[] => JSON.parse(args)

describe('Dockerfile', () => {
  it('is multi-stage on the official Node 22+ image', () => {
    const froms = dockerfile.filter((i) => i.keyword === 'FROM')
    assert.ok(froms.length >= 2, 'a build stage and a runtime stage')
    for (const from of froms) {
      const [, major] = /^node:(\d+)/.exec(from.args) ?? []
      assert.ok(major && Number(major) >= 22, `FROM ${from.args}`)
    }
  })

  it('every file it COPYs from the build context exists and is not excluded by .dockerignore', () => {
    const copies = dockerfile.filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))
    assert.ok(copies.length > 0)
    for (const copy of copies) {
      const parts = copy.args.split(/\s+/).filter((part) => !part.startsWith('--'))
      for (const source of parts.slice(0, -1)) {
        assert.ok(existsSync(join(ROOT, source)), `COPY ${source}: missing`)
        assert.ok(!ignored(dockerignore, source), `COPY ${source}: excluded by .dockerignore`)
      }
    }
  })

  it('the runtime stage copies the build output, the widget and the config', () => {
    const copies = inFinal.filter((i) => i.keyword === 'COPY').map((i) => i.args)
    const stageOfBuild = dockerfile.find((i) => i.keyword === 'RUN' && /npm run build/.test(i.args))?.stage
    assert.ok(stageOfBuild && stageOfBuild !== finalStage, 'the build runs in an earlier stage')
    assert.ok(copies.some((args) => args.includes(`--from=${stageOfBuild}`) && /\bdist\b/.test(args)), 'dist/ from the build stage')
    // public/ with the widget bundle the build made (public/assets/ is generated and git-ignored).
    assert.ok(copies.some((args) => args.includes(`--from=${stageOfBuild}`) && /\/app\/public\s/.test(args)), 'public/ from the build stage')
    const buildCopies = dockerfile.filter((i) => i.stage === stageOfBuild && i.keyword === 'COPY').map((i) => i.args)
    for (const dir of ['src', 'widget', 'public']) assert.ok(buildCopies.some((args) => args.startsWith(`${dir} `)), `the build stage copies ${dir}/`)
    assert.ok(copies.some((args) => /^config\s/.test(args)), 'config/')
    for (const dir of ['public', 'config', 'widget']) assert.ok(statSync(join(ROOT, dir)).isDirectory(), dir)
    assert.match(packageJson.scripts.build, /^node widget\/build\.ts && /, 'npm run build builds the widget too')
    assert.ok(existsSync(join(ROOT, 'config/default.yaml')))
  })

  it('the runtime stage installs production dependencies only', () => {
    const installs = inFinal.filter((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args))
    assert.equal(installs.length, 1)
    assert.match(installs[0].args, /--omit=dev/)
    assert.ok(existsSync(join(ROOT, 'package-lock.json')), 'npm ci needs the lockfile')
    // package.json also makes dist/node.js an ES module ("type": "module").
    assert.equal(packageJson.type, 'module')
    assert.ok(inFinal.some((i) => i.keyword === 'COPY' && /\bpackage\.json\b/.test(i.args) && /\bpackage-lock\.json\b/.test(i.args)))
  })

  it('runs as a non-root user', () => {
    const users = inFinal.filter((i) => i.keyword === 'USER')
    assert.equal(users.length, 1, 'one USER in the runtime stage')
    const user = users[0].args.split(':')[0]
    assert.notEqual(user, 'root')
    assert.notEqual(user, '0')
    const order = inFinal.map((i) => i.keyword)
    assert.ok(order.indexOf('USER') < order.indexOf('CMD'), 'USER comes before CMD')
  })

  it('starts `node dist/node.js`, the file `npm run build` writes, exposing the default port', () => {
    const cmd = inFinal.find((i) => i.keyword === 'CMD')
    assert.ok(cmd)
    assert.deepEqual(execForm(cmd.args), ['node', 'dist/node.js'])
    assert.match(packageJson.scripts.build, /--outfile=dist\/node\.js(\s|$)/)
    const expose = inFinal.find((i) => i.keyword === 'EXPOSE')
    assert.equal(expose?.args, '8080')
    assert.match(readFileSync(join(ROOT, 'config/default.yaml'), 'utf8'), /^\s+port: 8080$/m)
  })

  describe('the build script it runs', () => {
    // A private output path, so this does not race the runtimes test over dist/.
    mkdirSync(join(ROOT, 'test/.tmp'), { recursive: true })
    const out = mkdtempSync(join(ROOT, 'test/.tmp/docker-build-'))
    after(() => rmSync(out, { recursive: true, force: true }))

    it('bundles src/runtimes/node.ts into one ES module that imports only dependencies and Node builtins', async () => {
      const outfile = join(out, 'node.js')
      const metafile = join(out, 'meta.json')
      const { code, output } = await runScript('build', [['--outfile=dist/node.js', `--outfile=${outfile} --metafile=${metafile}`]])
      assert.equal(code, 0, output)
      assert.ok(statSync(outfile).size > 10_000, 'a bundle, not a stub')
      execFileSync(join(ROOT, 'node_modules/.bin/node'), ['--check', outfile], { cwd: ROOT })
      // The runtime stage installs `dependencies` only: every import the bundle leaves to run time must
      // be one of them (the production-install test then starts the bundle in such an install).
      const meta: Metafile = JSON.parse(readFileSync(metafile, 'utf8'))
      const imports = meta.outputs[relative(ROOT, outfile)].imports
      assert.ok(imports.length > 0)
      assert.deepEqual(imports.filter((i) => !i.external).map((i) => i.path), [], 'everything else is bundled')
      assert.deepEqual(notFromDependencies(imports.map((i) => i.path)), [])
    })
  })

  it('HEALTHCHECK exits 1 when nothing answers', async () => {
    const [, ...args] = healthcheckArgv(dockerfile)
    const port = await freePort()
    const outcome = await new Promise<number | null>((resolve) => {
      const child = execFile(join(ROOT, 'node_modules/.bin/node'), args, { env: { PATH: process.env.PATH, PORT: String(port) }, timeout: 10_000 })
      child.once('exit', (code) => resolve(code))
    })
    assert.equal(outcome, 1)
  })

  it('HEALTHCHECK probes a path the app answers 200 on', async () => {
    const argv = healthcheckArgv(dockerfile)
    assert.equal(argv[0], 'node', 'the slim image has no curl; Node probes')
    const [, path] = /\/\/127\.0\.0\.1:[^/]+(\/[\w/-]*)/.exec(argv.join(' ')) ?? []
    assert.equal(path, '/health')
    const { app } = await testApp()
    const res = await app.request(path)
    assert.equal(res.status, 200)
    assert.equal((await res.json()).status, 'healthy')
  })
})

/** Import specifiers that are neither a Node builtin nor a package of `dependencies`. */
function notFromDependencies(specifiers: string[]): string[] {
  const dependencies = new Set(Object.keys(packageJson.dependencies))
  const builtins = new Set(builtinModules)
  return [...new Set(specifiers)].filter((specifier) => {
    if (specifier.startsWith('node:') || builtins.has(specifier)) return false
    const parts = specifier.split('/')
    return !dependencies.has(specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0])
  })
}

describe('runtime imports of every entrypoint', () => {
  // Bun and Deno run src/ with the installed node_modules, and wrangler bundles the Worker from it:
  // a production install (`npm ci --omit=dev`) has to serve them too.
  for (const entry of ['node', 'bun', 'deno', 'workers']) {
    it(`src/runtimes/${entry}.ts imports only dependencies and builtins`, async () => {
      const result = await build({
        entryPoints: [join(ROOT, `src/runtimes/${entry}.ts`)],
        bundle: true,
        packages: 'external',
        platform: 'node',
        format: 'esm',
        write: false,
        metafile: true,
        logLevel: 'silent',
        // The Workers runtime's own modules.
        external: ['cloudflare:*'],
      })
      const specifiers = Object.values(result.metafile.outputs).flatMap((output) => output.imports.filter((i) => i.external).map((i) => i.path))
      assert.ok(specifiers.length > 0)
      assert.deepEqual(notFromDependencies(specifiers.filter((s) => !s.startsWith('cloudflare:'))), [])
    })
  }
})

describe('docker-compose.yml', () => {
  const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'))

  it('builds two server replicas from this Dockerfile and points them at the mongo and redis services', () => {
    const server = compose.services.server
    assert.equal(server.build, '.')
    assert.equal(server.deploy.replicas, 2)
    assert.equal(server.environment.MONGODB_URI, 'mongodb://mongo:27017')
    assert.equal(server.environment.REDIS_URL, 'redis://redis:6379')
    assert.equal(server.environment.RATE_LIMIT_INSTANCES, String(server.deploy.replicas))
    assert.equal(server.depends_on.mongo.condition, 'service_healthy')
    assert.equal(server.depends_on.redis.condition, 'service_healthy')
    assert.equal(server.ports, undefined, 'replicas publish no host port; the proxy does')
  })

  it('puts the official nginx image in front, with buffering off and long read timeouts for SSE', () => {
    const proxy = compose.services.proxy
    assert.match(proxy.image, /^nginx:/)
    assert.ok(proxy.ports.some((port: string) => port.endsWith(':8080')))
    const [file] = proxy.volumes[0].split(':')
    const conf = readFileSync(join(ROOT, file), 'utf8')
    assert.match(conf, /server server:8080/)
    assert.match(conf, /proxy_buffering off;/)
    assert.match(conf, /proxy_read_timeout 1h;/)
    assert.match(conf, /proxy_set_header Upgrade \$http_upgrade;/)
  })

  it('runs Redis 7.0 without persistence, with a health check', () => {
    const redis = compose.services.redis
    assert.match(redis.image, /^redis:7\.0/)
    assert.deepEqual(redis.command, ['redis-server', '--save', '', '--appendonly', 'no'])
    assert.ok(Array.isArray(redis.healthcheck.test))
  })

  it('runs mongo:7 with a health check and a named volume', () => {
    const mongo = compose.services.mongo
    assert.equal(mongo.image, 'mongo:7')
    assert.ok(Array.isArray(mongo.healthcheck.test) && mongo.healthcheck.test.length > 1)
    const [volume] = mongo.volumes[0].split(':')
    assert.ok(volume in compose.volumes, `volume ${volume} is declared`)
  })

  it('the settings it passes are real setting names', async () => {
    const { settingsTable } = await import('../../src/config/index.ts')
    const known = new Set([...settingsTable().map((row) => row.env), 'API_KEYS'])
    for (const name of Object.keys(compose.services.server.environment)) assert.ok(known.has(name), `${name} is not a setting`)
  })
})
