// Model output as markdown, made safe: marked parses, raw HTML in the text is escaped (shown as
// text), images become links (the page's CSP loads no foreign images), code is highlighted with a
// small highlight.js language set, and DOMPurify sanitises the result with a strict URL rule.
import DOMPurify from 'dompurify'
import hljs from 'highlight.js/lib/core'
import bash from 'highlight.js/lib/languages/bash'
import css from 'highlight.js/lib/languages/css'
import diff from 'highlight.js/lib/languages/diff'
import go from 'highlight.js/lib/languages/go'
import javascript from 'highlight.js/lib/languages/javascript'
import json from 'highlight.js/lib/languages/json'
import plaintext from 'highlight.js/lib/languages/plaintext'
import python from 'highlight.js/lib/languages/python'
import rust from 'highlight.js/lib/languages/rust'
import sql from 'highlight.js/lib/languages/sql'
import typescript from 'highlight.js/lib/languages/typescript'
import xml from 'highlight.js/lib/languages/xml'
import yaml from 'highlight.js/lib/languages/yaml'
import { Marked, type Token, type TokensList } from 'marked'

const LANGUAGES = { bash, css, diff, go, javascript, json, plaintext, python, rust, sql, typescript, xml, yaml }
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language)
const AUTO_DETECT = Object.keys(LANGUAGES).filter((name) => name !== 'plaintext')

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

function highlighted(code: string, lang: string | undefined): { html: string; language: string } {
  const wanted = (lang ?? '').trim().split(/\s+/)[0].toLowerCase()
  if (wanted && hljs.getLanguage(wanted)) return { html: hljs.highlight(code, { language: wanted, ignoreIllegals: true }).value, language: wanted }
  const auto = hljs.highlightAuto(code, AUTO_DETECT)
  return { html: auto.value, language: wanted || auto.language || 'text' }
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    // Raw HTML from the model is text, never markup.
    html: ({ text }) => escapeHtml(text),
    image: ({ href, text }) => `<a href="${escapeHtml(href)}">${escapeHtml(text || href)}</a>`,
    code: ({ text, lang }) => {
      const { html, language } = highlighted(text, lang)
      return (
        `<div class="code-block"><div class="code-head"><span class="code-lang">${escapeHtml(language)}</span>` +
        `<button type="button" class="copy-code">Copy</button></div>` +
        `<pre><code class="hljs language-${escapeHtml(language)}">${html}</code></pre></div>`
      )
    },
  },
})

const SAFE_URL = /^(?:https?:|mailto:)/i

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  // Code and tables scroll sideways on narrow screens; focusable, so the keyboard can scroll them too.
  if (node.tagName === 'PRE' || node.tagName === 'TABLE') node.setAttribute('tabindex', '0')
  if (node.tagName !== 'A') return
  const href = node.getAttribute('href')
  if (!href || !SAFE_URL.test(href)) {
    node.removeAttribute('href')
    return
  }
  // Every link the model writes leads off the page: a new tab that cannot reach back to this one.
  node.setAttribute('target', '_blank')
  node.setAttribute('rel', 'noopener noreferrer')
})

/** Sanitised HTML for markdown that came from the model. */
export function renderMarkdown(tokens: Token[], links: TokensList['links']): string {
  const list = Object.assign([...tokens], { links }) as TokensList
  return DOMPurify.sanitize(marked.parser(list), {
    ALLOWED_URI_REGEXP: SAFE_URL,
    FORBID_TAGS: ['style', 'img', 'form', 'input', 'textarea', 'select', 'iframe', 'svg', 'math'],
    FORBID_ATTR: ['style', 'id', 'name'],
  })
}

export function lex(text: string): TokensList {
  return marked.lexer(text)
}

/**
 * A reply's markdown, rendered block by block as it streams: a block whose source did not change
 * keeps its element, so only the growing last block is rendered again and the text above it never
 * moves or re-flows.
 */
export class MarkdownView {
  readonly root: HTMLElement
  #blocks: { raw: string; element: HTMLElement }[] = []

  constructor(root: HTMLElement) {
    this.root = root
  }

  update(text: string): void {
    const tokens = lex(text)
    const blocks = tokens.filter((token) => token.type !== 'space')
    let same = 0
    while (same < blocks.length && same < this.#blocks.length && this.#blocks[same].raw === blocks[same].raw) same++
    for (const stale of this.#blocks.splice(same)) stale.element.remove()
    for (const token of blocks.slice(same)) {
      const element = document.createElement('div')
      element.className = 'md-block'
      element.innerHTML = renderMarkdown([token], tokens.links)
      this.root.append(element)
      this.#blocks.push({ raw: token.raw, element })
    }
  }
}
