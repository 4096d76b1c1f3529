import { existsSync, readFileSync } from 'node:fs'
import { ConfigError, loadConfig, type Config } from '../config/index.ts'

/** The YAML file: `--config PATH`, else `CONFIG_FILE`, else `config/default.yaml` when it exists. */
export function configFilePath(argv = process.argv, env = process.env): string | undefined {
  const flag = argv.findIndex((arg) => arg === '--config' || arg.startsWith('--config='))
  if (flag >= 0) return argv[flag].includes('=') ? argv[flag].split('=')[1] : argv[flag + 1]
  if (env.CONFIG_FILE) return env.CONFIG_FILE
  return existsSync('config/default.yaml') ? 'config/default.yaml' : undefined
}

/** Loads and validates config for a process; on a bad config prints every problem and exits 2. */
export async function loadProcessConfig(): Promise<Config> {
  const path = configFilePath()
  try {
    let yaml: { text: string; source: string } | undefined
    if (path) {
      try {
        yaml = { text: readFileSync(path, 'utf8'), source: path }
      } catch (error) {
        throw new ConfigError([`config file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`])
      }
    }
    return checkFiles(await loadConfig({ env: process.env, yaml }))
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`assistant-server: ${error.message}\n`)
      process.exit(2)
    }
    throw error
  }
}

/** Files the config names must exist before the server starts, so a typo exits 2 like any other bad key. */
function checkFiles(config: Config): Config {
  const { tls } = config.server
  if (!tls.enabled) return config
  const problems: string[] = []
  for (const key of ['cert_file', 'key_file'] as const) {
    const file = tls[key]
    if (!file) problems.push(`server.tls.${key}: required when server.tls.enabled is true`)
    else if (!existsSync(file)) problems.push(`server.tls.${key}: no such file: ${file}`)
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return config
}
