export { ConfigError, envName, loadConfig, settingsTable, sha256Hex, type ConfigSources } from './load.ts'
export { configSchema, type Config, type ConfigInput } from './schema.ts'
export { defaults } from './defaults.ts'
export { parseDuration, parseSize } from './units.ts'
