import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { settingsTable } from '../../src/config/index.ts'
import { testApp } from '../helpers/app.ts'

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

  it("says what /health's timestamp is: epoch milliseconds, as it answers", async () => {
    const row = readme.split('\n').find((line) => line.startsWith('| `GET /health`'))
    assert.match(row ?? '', /`timestamp` in epoch milliseconds/)
    assert.doesNotMatch(readme, /timestamps are ISO 8601\./, 'no blanket ISO 8601 claim')
    const { app } = await testApp()
    const { timestamp } = await (await app.request('/health')).json()
    assert.ok(Number.isInteger(timestamp) && Math.abs(timestamp - Date.now()) < 60_000, `timestamp ${timestamp}`)
  })
})
