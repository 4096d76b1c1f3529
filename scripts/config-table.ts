// Prints the configuration table for the README: every setting, its environment variable and default.
// Run: node scripts/config-table.ts
import { settingsTable } from '../src/config/index.ts'

const show = (value: unknown): string => {
  if (value === null) return '(unset)'
  if (Array.isArray(value)) return value.length === 0 ? '(empty)' : `\`${value.join(',')}\``
  const text = String(value)
  return text.length > 60 ? `see \`src/config/defaults.ts\`` : `\`${text}\``
}

console.log('| environment variable | YAML key | default |')
console.log('| --- | --- | --- |')
for (const row of settingsTable()) console.log(`| \`${row.env}\` | \`${row.path}\` | ${show(row.default)} |`)
