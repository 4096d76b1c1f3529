import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { KEYS } from '../helpers/app.ts'
import { ARTIFACTS, layoutOf, openPage, seriousViolations, startWidgetServer, VIEWPORTS } from './harness.ts'

const FULL_REPLY = (said: string) =>
  `You said: "${said}". I am the built-in development model, a stand-in that echoes your messages; set AI_BASE_URL to an OpenAI-compatible service for real answers.`

const MARKDOWN = 'Here is **bold** and `inline code`:\n\n```js\nconst answer = 42\n```'
const HOSTILE =
  '<img src=x onerror="alert(1)"> <script>alert(2)</script> [click me](javascript:alert(3)) [data](data:text/html,hi) ' +
  '<svg onload=alert(4)></svg> [mixed](JaVaScRiPt:alert(5)) [encoded](&#106;avascript:alert(6)) <javascript:alert(7)> ![pic](javascript:alert(8))'

/** The widget in headless Chromium against the whole app on a real Node server, at a desktop and a phone size. */
describe('chat widget', () => {
  let stopServer: () => Promise<void>
  let browser: Browser
  let base: string

  before(async () => {
    const started = await startWidgetServer()
    ;({ base, browser } = started)
    stopServer = started.stop
  })
  after(() => stopServer?.())

  for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    describe(`at ${viewport.width}×${viewport.height} (${name})`, () => {
      let context: BrowserContext
      let page: Page
      let problems: string[]
      const reply = (n: number) => page.locator('#messages .message.assistant').nth(n)
      const last = () => page.locator('#messages .message.assistant').last()

      /** Types and sends; resolves once the reply to it has begun. */
      async function send(text: string) {
        const replies = await page.locator('#messages .message.assistant').count()
        await page.locator('#message-input').fill(text)
        await page.locator('#send').click()
        await reply(replies).waitFor({ state: 'attached' })
      }
      /** The sidebar's own controls: on a phone the drawer opens first. */
      async function inSidebar(action: () => Promise<void>) {
        if (name === 'phone') await page.locator('#drawer-toggle').click()
        await action()
        await page.locator('#sidebar').waitFor({ state: name === 'phone' ? 'hidden' : 'visible' })
      }
      async function replyDone() {
        await page.locator('#messages .message.assistant.streaming').waitFor({ state: 'detached' })
      }

      before(async () => {
        context = await browser.newContext({ viewport })
        ;({ page, problems } = await openPage(context, base))
      })
      after(() => context?.close())

      it('first load shows only the key form', async () => {
        await page.locator('#key-input').waitFor({ state: 'visible' })
        assert.equal(await page.locator('#chat').isVisible(), false, 'the chat is hidden until a key is accepted')
        assert.equal(await page.locator('#message-input').isVisible(), false)
        assert.equal(await page.locator('#change-key').isVisible(), false)
        assert.deepEqual(await seriousViolations(page), [])
        await page.locator('#key-input').fill('not-a-key-at-all-0000')
        await page.locator('#key-form button[type=submit]').click()
        await page.locator('#key-error').filter({ hasText: 'not accepted' }).waitFor()
        assert.equal(await page.locator('#chat').isVisible(), false, 'a refused key shows no chat')
        // The browser logs the refused request's 401; that one is expected.
        problems.splice(0)
        await page.locator('#key-input').fill(KEYS.alice)
        await page.locator('#key-input').press('Enter')
        await page.locator('#whoami').filter({ hasText: 'signed in as alice' }).waitFor({ state: 'attached' })
        assert.equal(await page.locator('#key-panel').isVisible(), false)
        assert.equal(await page.locator('#message-input').isVisible(), true)
      })

      it('streams a markdown reply: <strong>, <code> and a highlighted <pre> with a copy button', async () => {
        await send(MARKDOWN)
        await page.locator('#messages .message.assistant.streaming').waitFor()
        await last().locator('strong').filter({ hasText: 'bold' }).waitFor()
        await replyDone()
        assert.equal(await last().locator(':not(pre) > code').filter({ hasText: 'inline code' }).count(), 1)
        const code = last().locator('pre code.hljs')
        assert.match((await code.textContent()) ?? '', /const answer = 42/)
        assert.ok((await code.locator('span.hljs-keyword').count()) > 0, 'the code is highlighted')
        assert.equal(await last().locator('.code-block button.copy-code').count(), 1)
        assert.equal(await last().locator('.author').textContent(), 'Assistant')
        assert.equal(await page.locator('#messages .message.user .author').first().textContent(), 'You')
        assert.match(await page.evaluate(() => location.hash), /^#\/c\/[\w-]+$/, 'the new conversation is in the URL')
      })

      it('renders incrementally: a finished block keeps its element, and a reader scrolled up is not moved', async () => {
        await send(Array.from({ length: 40 }, (_, i) => `Paragraph ${i + 1}.`).join('\n\n'))
        const blocks = last().locator('.md-block')
        await blocks.nth(3).waitFor()
        const scrolled = await page.evaluate(() => {
          const list = document.getElementById('messages')!
          document.querySelector('#messages .message.assistant:last-of-type .md-block')!.setAttribute('data-first', '')
          list.scrollTop = 0
          return list.scrollHeight > list.clientHeight
        })
        assert.ok(scrolled, 'the list scrolls')
        assert.equal(await page.locator('#messages .message.assistant.streaming').count(), 1, 'still streaming')
        await replyDone()
        assert.equal(await blocks.first().getAttribute('data-first'), '', 'the first paragraph was never rendered again')
        assert.ok((await blocks.count()) >= 40)
        assert.equal(await page.evaluate(() => document.getElementById('messages')!.scrollTop), 0, 'the list did not jump')
      })

      it('a reply with <img onerror>, <script> and javascript:/data: links executes nothing and leaves no such element', async () => {
        await send(HOSTILE)
        await replyDone()
        const messages = page.locator('#messages')
        assert.equal(await messages.locator('img, script, iframe, object, svg').count(), 0)
        assert.deepEqual(await last().locator('a[href]').evaluateAll((links) => links.map((a) => a.getAttribute('href'))), [], 'no link survives with an unsafe URL')
        assert.equal(await page.locator('a[href^="javascript:"], a[href^="data:"], [onerror]').count(), 0)
        assert.match((await last().textContent()) ?? '', /<script>alert\(2\)<\/script>/, 'raw HTML is shown as text')
        assert.equal(await last().locator('a').filter({ hasText: 'click me' }).getAttribute('href'), null)
        assert.deepEqual(problems, [], 'no dialog, no error, no CSP violation')
      })

      it('an over-long message shows the limit by the composer and keeps the text', async () => {
        const before = await page.locator('#messages .message').count()
        const long = 'x'.repeat(32_769)
        await page.locator('#message-input').fill(long)
        await page.locator('#send').click()
        await page.locator('#composer-error').filter({ hasText: '32768' }).waitFor()
        assert.equal(await page.locator('#message-input').inputValue(), long)
        assert.equal(await page.locator('#messages .message').count(), before, 'the refused message is not shown as sent')
        assert.equal(await page.locator('#composer-error').isVisible(), true)
        problems.splice(0) // the refused request's 400, logged by the browser
        await page.locator('#message-input').fill('')
      })

      it("a reply that fails mid-stream says why, in the reply and by the composer", async () => {
        await send('/fail')
        await last().locator('.note.error').waitFor()
        assert.match((await last().locator('.note.error').textContent()) ?? '', /^Error: \S/)
        assert.equal(await page.locator('#status').textContent(), await last().locator('.note.error').textContent())
        assert.equal(await page.locator('#send').isDisabled(), false)
      })

      it('tool calls show as collapsible rows, live and after a reload, which restores the conversation', async () => {
        await send('/tool calculator {"expression":"6*7"}')
        const row = page.locator('#messages .message.tool details')
        await row.locator('.tool-state').filter({ hasText: 'done' }).waitFor()
        await replyDone()
        await last().filter({ hasText: 'The calculator tool returned' }).waitFor()
        assert.match((await row.locator('summary').textContent()) ?? '', /calculator/)
        await row.locator('summary').click()
        assert.match((await row.locator('.tool-result').textContent()) ?? '', /42/)
        const hash = await page.evaluate(() => location.hash)

        await page.reload()
        await page.locator('#whoami').filter({ hasText: 'alice' }).waitFor({ state: 'attached' })
        assert.equal(await page.evaluate(() => location.hash), hash)
        await page.locator('#messages .message.tool details summary').filter({ hasText: 'calculator' }).waitFor()
        assert.equal(await page.locator('#messages .message.tool details').count(), 1)
        assert.match((await page.locator('#messages .tool-args').textContent()) ?? '', /6\*7/)
        assert.equal(await reply(0).locator('strong').count(), 1, 'markdown is rendered again when reopened')
        assert.equal(await page.locator('#messages img, #messages script').count(), 0)
        assert.equal(await page.locator('#messages .message.user').count(), 5)
        await page.locator('#messages .message.tool summary').click()
        await page.locator('#messages .code-block').first().scrollIntoViewIfNeeded()
        await page.screenshot({ path: join(ARTIFACTS, `widget-${name}-markdown-tools.png`) })
        // Highlighted code, tool rows and notes in both themes: axe checks their contrast too.
        assert.deepEqual(await seriousViolations(page), [])
        await page.emulateMedia({ colorScheme: 'dark' })
        assert.deepEqual(await seriousViolations(page), [])
        await page.screenshot({ path: join(ARTIFACTS, `widget-${name}-markdown-tools-dark.png`) })
        await page.emulateMedia({ colorScheme: 'light' })
      })

      it('stops a reply halfway', async () => {
        await inSidebar(() => page.locator('#new-chat').click())
        await page.waitForFunction(() => location.hash === '#/')
        assert.equal(await page.locator('#messages .message').count(), 0)
        await send('please write a long answer '.repeat(30))
        await last().filter({ hasText: 'You said' }).waitFor()
        await page.locator('#stop').click()
        await last().locator('.note').filter({ hasText: 'Stopped' }).waitFor()
        assert.doesNotMatch((await last().textContent()) ?? '', /set AI_BASE_URL/, 'the reply ended early')
        assert.equal(await page.locator('#send').isDisabled(), false)
      })

      it('resumes from the last event id after the connection is cut, showing "Reconnecting…"', async () => {
        await page.evaluate(() => {
          const seen: string[] = ((window as unknown as { statusSeen: string[] }).statusSeen = [])
          const status = document.getElementById('status')!
          new MutationObserver(() => seen.push(status.textContent ?? '')).observe(status, { childList: true, characterData: true, subtree: true })
        })
        let cut = false
        let refusedResume = false
        // The first reply's stream ends after its fifth event; the first attempt to resume fails outright.
        await page.route('**/api/v1/chat/stream', async (route) => {
          const response = await route.fetch()
          const frames = (await response.text()).split('\n\n')
          cut = true
          await route.fulfill({ response, body: frames.slice(0, 6).join('\n\n') + '\n\n' })
        })
        await page.route('**/api/v1/conversations/*/stream', (route) => {
          if (refusedResume) return route.continue()
          refusedResume = true
          return route.abort('connectionreset')
        })
        const said = 'resume me after the cut'
        await send(said)
        await last().locator('.body').filter({ hasText: 'set AI_BASE_URL' }).waitFor()
        await replyDone()
        assert.ok(cut && refusedResume)
        assert.equal((await last().locator('.body').textContent())?.trim(), FULL_REPLY(said), 'every delta once, none lost')
        const seen = await page.evaluate(() => (window as unknown as { statusSeen: string[] }).statusSeen)
        assert.ok(seen.includes('Reconnecting…'), JSON.stringify(seen))
        assert.equal(await page.locator('#status').textContent(), '')
        await page.unrouteAll()
        problems.splice(0) // the aborted request's network error, logged by the browser
      })

      it('regenerates the last reply, renames, goes back and forward, and deletes with a confirmation', async () => {
        // This conversation: the stopped turn, then the resumed one, whose reply is regenerated.
        const resumed = await page.evaluate(() => location.hash)
        // A refused regenerate (as a rate limit would) says why and leaves the stored reply shown.
        await page.route('**/api/v1/chat/stream', (route) =>
          route.fulfill({ status: 429, contentType: 'application/problem+json', headers: { 'retry-after': '1' }, body: JSON.stringify({ title: 'Too Many Requests', status: 429, detail: 'Rate limit exceeded; retry in 1 s' }) }),
        )
        await page.locator('#regenerate').click()
        await page.locator('#composer-error').filter({ hasText: 'Rate limit exceeded; retry in 1 s' }).waitFor()
        await last().locator('.body').filter({ hasText: 'set AI_BASE_URL' }).waitFor()
        assert.equal(await page.locator('#messages .message.assistant').count(), 2)
        await page.unrouteAll()
        problems.splice(0) // the browser logs the 429
        await page.locator('#regenerate').click()
        await page.locator('#messages .message.assistant.streaming').waitFor()
        await replyDone()
        assert.equal(await page.locator('#messages .message.assistant').count(), 2, 'the reply is replaced, not added')
        assert.equal(await page.locator('#messages .message.user').count(), 2)
        assert.equal((await last().locator('.body').textContent())?.trim(), FULL_REPLY('resume me after the cut'))

        await page.locator('#rename').click()
        await page.locator('#rename-input').fill(`Renamed on ${name}`)
        await page.locator('#rename-input').press('Enter')
        await page.locator('#thread-title').filter({ hasText: `Renamed on ${name}` }).waitFor()
        await page.locator(`#conversations a[href="${resumed}"]`).filter({ hasText: `Renamed on ${name}` }).waitFor({ state: 'attached' })

        // Back: the conversation open before this one (the tool call); forward: this one again.
        await page.goBack()
        await page.locator('#messages .message.tool').waitFor()
        assert.notEqual(await page.evaluate(() => location.hash), resumed)
        await page.goForward()
        await page.locator('#thread-title').filter({ hasText: `Renamed on ${name}` }).waitFor()

        // Delete asks first: cancelling keeps it, confirming removes it and leaves a new chat.
        await page.locator('#delete').click()
        await page.locator('#delete-dialog').filter({ hasText: `Renamed on ${name}` }).waitFor()
        await page.keyboard.press('Escape')
        await page.locator('#delete-dialog').waitFor({ state: 'hidden' })
        assert.equal(await page.locator(`#conversations a[href="${resumed}"]`).count(), 1)
        await page.locator('#delete').click()
        await page.locator('#delete-dialog button.danger').click()
        await page.waitForFunction(() => location.hash === '#/')
        await page.locator(`#conversations a[href="${resumed}"]`).waitFor({ state: 'detached' })
        assert.equal(await page.locator('#thread-title').textContent(), 'New chat')
      })

      it(name === 'phone' ? 'the conversation list is a drawer that opens a conversation' : 'the conversation list is always shown', async () => {
        if (name !== 'phone') {
          assert.equal(await page.locator('#sidebar').isVisible(), true)
          assert.equal(await page.locator('#drawer-toggle').isVisible(), false)
          return
        }
        assert.equal(await page.locator('#sidebar').isVisible(), false)
        await page.locator('#drawer-toggle').click()
        await page.locator('#sidebar').waitFor({ state: 'visible' })
        assert.equal(await page.locator('#drawer-toggle').getAttribute('aria-expanded'), 'true')
        await page.waitForFunction(() => document.getElementById('sidebar')!.getBoundingClientRect().left === 0)
        await page.screenshot({ path: join(ARTIFACTS, 'widget-phone-drawer.png') })
        await page.locator('#conversations a').first().click()
        await page.locator('#sidebar').waitFor({ state: 'hidden' })
        assert.equal(await page.locator('#drawer-toggle').getAttribute('aria-expanded'), 'false')
        await page.locator('#messages .message').first().waitFor()
      })

      it('composer at least 250 px wide, no horizontal scroll, visible keyboard focus', async () => {
        const { overflow, composer } = await layoutOf(page)
        assert.equal(overflow, 0, 'no horizontal scroll')
        assert.ok(composer >= 250, `composer ${composer} px`)
        if (name === 'phone') {
          // The narrowest width the widget is made for.
          await page.setViewportSize({ width: 360, height: 740 })
          const narrow = await layoutOf(page)
          await page.setViewportSize(viewport)
          assert.equal(narrow.overflow, 0, 'no horizontal scroll at 360 px')
          assert.ok(narrow.composer >= 250, `composer ${narrow.composer} px at 360 px`)
        }
        await page.locator('#message-input').focus()
        await page.keyboard.press('Tab')
        const focus = await page.evaluate(() => {
          const active = document.activeElement as HTMLElement
          return { id: active.id, outline: getComputedStyle(active).outlineStyle }
        })
        assert.equal(focus.id, 'send')
        assert.notEqual(focus.outline, 'none')
      })

      it('axe-core finds no serious or critical violation (light and dark); screenshots saved', async () => {
        await page.locator('#message-input').blur()
        assert.deepEqual(await seriousViolations(page), [])
        await page.screenshot({ path: join(ARTIFACTS, `widget-${name}.png`) })
        await page.emulateMedia({ colorScheme: 'dark' })
        assert.deepEqual(await seriousViolations(page), [])
        await page.screenshot({ path: join(ARTIFACTS, `widget-${name}-dark.png`) })
        await page.emulateMedia({ colorScheme: 'light' })
      })

      it('no console errors, page errors or CSP violations along the way', () => {
        assert.deepEqual(problems, [])
      })
    })
  }
})
