import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { serve, type ServerType } from '@hono/node-server'
import { serveStatic } from '@hono/node-server/serve-static'
import { chromium, type Browser } from 'playwright-core'
import { conversationRoutes } from '../../src/features/conversations/index.ts'
import { meRoutes } from '../../src/features/me/index.ts'
import { createBuiltinProvider } from '../../src/providers/builtin/index.ts'
import { chatApp } from '../chat/helpers.ts'
import { KEYS } from '../helpers/app.ts'

const CHROMIUM = '/usr/bin/chromium'

/** The widget in headless Chromium against a real Node server: send, watch it stream, stop one. */
describe('chat widget', () => {
  let server: ServerType
  let browser: Browser
  let base: string

  before(async () => {
    // Never skip: CI installs chromium (.ci/run), so a missing binary is a broken environment.
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install it (apt-get install -y chromium) to run the widget test`)
    const { app } = await chatApp({
      // A visible pace so the reply streams and there is time to press Stop.
      provider: createBuiltinProvider({ chunkDelayMs: 40 }),
      extra: (api, stores) => void api.route('/api/v1', meRoutes()).route('/api/v1', conversationRoutes({ store: stores.conversations })),
      serveStatic: serveStatic({ root: 'public' }),
    })
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s))
    })
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 30_000,
    })
  })

  after(async () => {
    await browser?.close()
    if (!server) return
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    ;(server as Server).closeAllConnections()
    await closed
  })

  it('asks for the key, streams a reply as text, lists the conversation, and stops a reply', async () => {
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text())
    })
    try {
      const response = await page.goto(base + '/', { timeout: 15_000 })
      // The page runs under the production CSP (no inline scripts); violations would show as console errors.
      assert.match(response!.headers()['content-security-policy'] ?? '', /script-src 'self'/)
      await page.locator('#key-input').fill(KEYS.alice, { timeout: 10_000 })
      await page.locator('#key-form button[type=submit]').click()
      await page.locator('#whoami').filter({ hasText: 'signed in as alice' }).waitFor({ timeout: 10_000 })

      // Markup in the message must come back as text, never as elements.
      const said = 'hello <b>widget</b>'
      await page.locator('#message-input').fill(said)
      await page.locator('#send').click()
      const reply = page.locator('.message.assistant').first()
      // Streaming: part of the reply is on screen while the rest is still coming.
      await page.locator('.message.assistant.streaming').first().waitFor({ timeout: 10_000 })
      await reply.filter({ hasText: `You said: "${said}"` }).waitFor({ timeout: 15_000 })
      await page.locator('.message.assistant.streaming').waitFor({ state: 'detached', timeout: 15_000 })
      assert.equal(await reply.locator('b').count(), 0, 'model output is never parsed as HTML')
      await page.locator('#conversations button').first().waitFor({ timeout: 10_000 })

      // A second, long message: stop it halfway.
      await page.locator('#message-input').fill('please write a long answer '.repeat(8))
      await page.locator('#send').click()
      const second = page.locator('.message.assistant').nth(1)
      await second.filter({ hasText: 'You said' }).waitFor({ timeout: 10_000 })
      await page.locator('#stop').click()
      await second.locator('.note').filter({ hasText: '(stopped)' }).waitFor({ timeout: 10_000 })
      const text = (await second.locator('.body').textContent()) ?? ''
      assert.ok(!text.includes('set AI_BASE_URL'), 'the reply ended early')
      assert.equal(await page.locator('#send').isDisabled(), false)
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })
})
