// The message list (a live region of <article>s): user messages as plain text, replies as markdown, tool calls as collapsible
// rows, notes (stopped, errors) inside the message they belong to. The list is a live region.
import type { ToolTrace } from './api.ts'
import { MarkdownView } from './markdown.ts'

const AUTHORS: Record<string, string> = { user: 'You', assistant: 'Assistant', tool: 'Tool' }

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

const asJson = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value, null, 2))

/** One reply: its markdown grows as deltas come, rendered at most once per frame. */
export class ReplyView {
  readonly item: HTMLElement
  readonly #markdown: MarkdownView
  readonly #thread: Thread
  #text = ''
  #frame = 0

  constructor(thread: Thread, item: HTMLElement, body: HTMLElement) {
    this.#thread = thread
    this.item = item
    this.#markdown = new MarkdownView(body)
  }

  get text(): string {
    return this.#text
  }

  append(delta: string): void {
    this.#text += delta
    if (this.#frame) return
    this.#frame = requestAnimationFrame(() => this.flush())
  }

  set(text: string): void {
    this.#text = text
    this.flush()
  }

  flush(): void {
    if (this.#frame) cancelAnimationFrame(this.#frame)
    this.#frame = 0
    this.#thread.keepingBottom(() => this.#markdown.update(this.#text))
  }

  setStreaming(streaming: boolean): void {
    this.item.classList.toggle('streaming', streaming)
    this.item.setAttribute('aria-busy', String(streaming))
    if (!streaming) this.flush()
  }

  note(text: string, kind: 'info' | 'error' = 'info'): void {
    this.#thread.keepingBottom(() => this.item.append(element('p', `note ${kind}`, text)), true)
  }
}

export class Thread {
  readonly list: HTMLElement
  readonly #tools = new Map<string, HTMLDetailsElement>()

  constructor(list: HTMLElement) {
    this.list = list
    list.addEventListener('click', (event) => {
      const button = (event.target as HTMLElement).closest('button.copy-code')
      if (button instanceof HTMLButtonElement) void copyCode(button)
    })
  }

  clear(): void {
    this.list.replaceChildren()
    this.#tools.clear()
  }

  /** Runs `change`; if the list was scrolled to its end (or `force`), keeps it there, else leaves it still. */
  keepingBottom(change: () => void, force = false): void {
    const list = this.list
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 48
    change()
    if (atBottom || force) list.scrollTop = list.scrollHeight
  }

  #item(role: string): HTMLElement {
    const item = element('article', `message ${role}`)
    item.append(element('p', 'author', AUTHORS[role] ?? role))
    this.keepingBottom(() => this.list.append(item), true)
    return item
  }

  addUser(text: string): HTMLElement {
    const item = this.#item('user')
    item.append(element('div', 'body plain', text))
    return item
  }

  addReply(text = ''): ReplyView {
    const item = this.#item('assistant')
    const body = element('div', 'body markdown')
    item.append(body)
    const view = new ReplyView(this, item, body)
    if (text) view.set(text)
    return view
  }

  /** A tool call as a collapsed row; `toolResult` fills it in. Placed before `before` (the live reply). */
  addToolCall(call: ToolTrace, before?: HTMLElement): void {
    const item = element('article', 'message tool')
    const details = element('details', 'tool-row')
    const summary = element('summary')
    summary.append(element('span', 'author', 'Tool call'), ' ', element('code', 'tool-name', call.name), ' ', element('span', 'tool-state', 'running…'))
    details.append(summary, element('p', 'tool-label', 'Arguments'), element('pre', 'tool-args', asJson(call.arguments ?? {})))
    item.append(details)
    this.keepingBottom(() => (before ? this.list.insertBefore(item, before) : this.list.append(item)))
    this.#tools.set(call.id, details)
    if (call.result !== undefined || call.error) this.toolResult(call)
  }

  toolResult(result: ToolTrace): void {
    const details = this.#tools.get(result.id)
    if (!details) return
    const state = details.querySelector('.tool-state')!
    state.textContent = result.error ? `failed: ${result.error.detail ?? 'error'}` : 'done'
    details.classList.toggle('failed', !!result.error)
    details.append(element('p', 'tool-label', result.error ? 'Error' : 'Result'), element('pre', 'tool-result', asJson(result.error ? result.error.detail : result.result)))
  }

  /** The last reply's element and the user message it answers, for regenerate. */
  lastTurn(): { user: HTMLElement; text: string } | null {
    const users = this.list.querySelectorAll<HTMLElement>('.message.user')
    const user = users[users.length - 1]
    if (!user) return null
    return { user, text: user.querySelector('.body')?.textContent ?? '' }
  }

  /** Removes everything after `item` (the reply and tool rows of the turn being regenerated). */
  removeAfter(item: HTMLElement): void {
    while (item.nextElementSibling) item.nextElementSibling.remove()
  }
}

async function copyCode(button: HTMLButtonElement): Promise<void> {
  const code = button.closest('.code-block')?.querySelector('pre')?.textContent ?? ''
  try {
    await navigator.clipboard.writeText(code)
    button.textContent = 'Copied'
  } catch {
    button.textContent = 'Copy failed'
  }
  setTimeout(() => (button.textContent = 'Copy'), 1500)
}
