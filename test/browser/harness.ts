import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { join, relative } from 'node:path'
import { serve, type ServerType } from '@hono/node-server'
import { serveStatic } from '@hono/node-server/serve-static'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { createBuiltinProvider } from '../../src/providers/builtin/index.ts'
import { ensureWidget } from '../../widget/build.ts'
import { testApp } from '../helpers/app.ts'
import { ROOT } from '../helpers/runtimes.ts'

export const CHROMIUM = '/usr/bin/chromium'
/** Screenshots go here (git-ignored): look at them after a run. */
export const ARTIFACTS = join(ROOT, 'test-artifacts')
export const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/** The whole app (its CSP, headers, body limits, tools) on a real Node server with the widget's files; stop() ends both. */
export async function startWidgetServer(): Promise<{ base: string; browser: Browser; stop(): Promise<void> }> {
  // Never skip: CI installs chromium (.ci/run), so a missing binary is a broken environment, with or without CI=true.
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install it (apt-get install -y chromium) to run the widget test`)
  await ensureWidget()
  // testApp keeps rate limiting off (its rule for every in-process test): one browser session sends
  // more than the default burst of 10 requests within seconds, which would make the test about timing.
  const { app } = await testApp({
    // A visible pace (the default is 15 ms a word) so a reply is seen streaming and Stop lands mid-reply.
    deps: { provider: createBuiltinProvider({ chunkDelayMs: 25 }), serveStatic: serveStatic({ root: relative(process.cwd(), join(ROOT, 'public')) }) },
  })
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s))
  })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30_000,
  })
  mkdirSync(ARTIFACTS, { recursive: true })
  return {
    base,
    browser,
    async stop() {
      await browser.close().catch(() => {})
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      ;(server as Server).closeAllConnections()
      await closed
    },
  }
}

/**
 * A page that records every console error, uncaught exception, dialog (alert from injected script)
 * and CSP violation (reported by a listener installed before the page's own script runs).
 */
export async function openPage(context: BrowserContext, base: string): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`)
  })
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`)
    void dialog.dismiss()
  })
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`))
  })
  const response = await page.goto(base + '/')
  const csp = response!.headers()['content-security-policy'] ?? ''
  assert.match(csp, /script-src 'self'/)
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
  return { page, problems }
}

/** axe-core's serious and critical violations on the page as it is now. */
export async function seriousViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern (a <script> tag would be refused).
  await page.evaluate(axeSource)
  const violations = await page.evaluate(async () => {
    const result = await (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe.run(document, { resultTypes: ['violations'] })
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) }))
  })
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.targets.join(', ')}`)
}

/** The horizontal overflow of the document and the composer's width, in CSS px. */
export function layoutOf(page: Page): Promise<{ overflow: number; composer: number }> {
  return page.evaluate(() => ({
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    composer: document.getElementById('message-input')!.getBoundingClientRect().width,
  }))
}
