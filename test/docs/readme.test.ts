import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { settingsTable } from '../../src/config/index.ts'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

describe('README', () => {
  it('starts with the three commands a newcomer needs', () => {
    const head = readme.slice(0, 400)
    for (const command of ['npm install', 'npm start', 'npm test']) assert.ok(head.includes(command), command)
  })

  it('documents every setting with its environment variable', () => {
    const missing = settingsTable().filter((row) => !readme.includes(`| \`${row.env}\` | \`${row.path}\` |`))
    assert.deepEqual(missing.map((row) => row.env), [])
  })
})
