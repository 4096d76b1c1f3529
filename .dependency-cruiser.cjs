/**
 * Layering rules for src/, checked by test/architecture/layers.test.ts (`depcruise src`):
 * imports point one way, from the runtimes at the edge through the app and its features to the
 * kernel at the bottom.
 */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'Imports point one way.', from: {}, to: { circular: true } },
    {
      name: 'kernel-imports-nothing-of-the-app',
      severity: 'error',
      comment: 'src/kernel holds the shared types (Clock, HealthCheck, problems) everything may import.',
      from: { path: '^src/kernel/' },
      to: { path: '^src/(?!kernel/)' },
    },
    {
      name: 'features-never-import-runtimes',
      severity: 'error',
      from: { path: '^src/features/' },
      to: { path: '^src/runtimes/' },
    },
    {
      name: 'storage-and-providers-never-import-features',
      severity: 'error',
      from: { path: '^src/(storage|providers)/' },
      to: { path: '^src/(features|middleware|pipeline|app\\.ts|deps\\.ts)' },
    },
    {
      name: 'pipeline-knows-no-middleware-or-feature',
      severity: 'error',
      comment: 'The pipeline runs middlewares; it never imports one.',
      from: { path: '^src/pipeline/' },
      to: { path: '^src/(middleware|features|storage|providers|runtimes)/' },
    },
    {
      name: 'middleware-never-imports-features',
      severity: 'error',
      from: { path: '^src/middleware/' },
      to: { path: '^src/(features|storage/(memory|mongo)|runtimes)/' },
    },
    {
      name: 'composition-root-for-entrypoints-only',
      severity: 'error',
      comment: 'deps.ts builds everything; only entrypoints (and tests) import it.',
      from: { path: '^src/', pathNot: '^src/(runtimes/|app\\.ts$|.*\\.test\\.ts$)' },
      to: { path: '^src/deps\\.ts$' },
    },
    {
      name: 'redis-client-behind-its-port',
      severity: 'error',
      comment: 'Only src/redis/ uses the Redis client, and only src/runtimes/redis.ts (process entrypoints) opens it: the Workers bundle never holds it.',
      from: { path: '^src/', pathNot: '^src/(redis/|runtimes/redis\\.ts$|.*\\.test\\.ts$)' },
      to: { path: '^(src/redis/|node_modules/(redis|@redis)/)' },
    },
    {
      name: 'core-uses-web-apis-only',
      severity: 'error',
      comment: 'node:* only in the runtime adapters and the MongoDB adapter.',
      from: { path: '^src/', pathNot: '^src/(runtimes/|storage/mongo/|.*\\.test\\.ts$)' },
      to: { dependencyTypes: ['core'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
}
