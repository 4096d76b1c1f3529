// The conversation list (a drawer on phones), and rename / delete behind a confirming dialog.
import type { Api, ConversationSummary } from './api.ts'
import { hashOf } from './route.ts'

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

export class Sidebar {
  readonly #api: Api
  readonly #list = $<HTMLUListElement>('conversations')
  readonly #more = $<HTMLButtonElement>('more-conversations')
  readonly #toggle = $<HTMLButtonElement>('drawer-toggle')
  readonly #nav = $<HTMLElement>('sidebar')
  readonly #scrim = $<HTMLElement>('scrim')
  #cursor: string | null = null
  #current: string | null = null
  readonly titles = new Map<string, string | null>()
  /** Called when the list could not be loaded (chatting still works). */
  onError: (message: string) => void = () => {}

  constructor(api: Api) {
    this.#api = api
    this.#more.addEventListener('click', () => void this.load(false))
    this.#toggle.addEventListener('click', () => this.setOpen(this.#toggle.getAttribute('aria-expanded') !== 'true'))
    this.#scrim.addEventListener('click', () => this.setOpen(false))
    this.#nav.addEventListener('click', (event) => {
      if ((event.target as HTMLElement).closest('a, #new-chat')) this.setOpen(false)
    })
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.#nav.classList.contains('open')) {
        this.setOpen(false)
        this.#toggle.focus()
      }
    })
  }

  /** The drawer (phones only; on wider screens the list is always shown and this changes nothing visible). */
  setOpen(open: boolean): void {
    this.#nav.classList.toggle('open', open)
    this.#scrim.hidden = !open
    this.#toggle.setAttribute('aria-expanded', String(open))
    if (open) this.#nav.querySelector<HTMLElement>('#new-chat')?.focus()
  }

  show(): void {
    this.#toggle.hidden = false
  }

  async load(reset = true): Promise<void> {
    const query = new URLSearchParams({ limit: '30' })
    if (!reset && this.#cursor) query.set('cursor', this.#cursor)
    let page: { data: ConversationSummary[]; next_cursor: string | null }
    try {
      page = await this.#api.json(`/conversations?${query}`)
    } catch (error) {
      this.onError(`Could not list conversations: ${(error as Error).message}`)
      return
    }
    if (reset) this.#list.replaceChildren()
    for (const conversation of page.data) {
      this.titles.set(conversation.id, conversation.title)
      const item = document.createElement('li')
      const link = document.createElement('a')
      link.href = hashOf(conversation.id)
      link.dataset.id = conversation.id
      link.textContent = conversation.title || 'Untitled'
      if (conversation.updated_at) link.title = new Date(conversation.updated_at).toLocaleString()
      item.append(link)
      this.#list.append(item)
    }
    this.#cursor = page.next_cursor
    this.#more.hidden = !this.#cursor
    this.mark(this.#current)
  }

  mark(conversationId: string | null): void {
    this.#current = conversationId
    for (const link of this.#list.querySelectorAll('a')) {
      if (link.dataset.id === conversationId) link.setAttribute('aria-current', 'page')
      else link.removeAttribute('aria-current')
    }
  }
}

/** Opens `dialog`; resolves with whether it was confirmed. `confirm` runs before it closes and may throw to keep it open. */
export function confirmDialog(dialog: HTMLDialogElement, errorLine: HTMLElement, confirm: () => Promise<void>): Promise<boolean> {
  const form = dialog.querySelector('form')!
  const cancel = dialog.querySelector<HTMLButtonElement>('button.cancel')!
  errorLine.textContent = ''
  dialog.showModal()
  return new Promise((resolve) => {
    const done = (confirmed: boolean) => {
      form.removeEventListener('submit', onSubmit)
      cancel.removeEventListener('click', onCancel)
      dialog.removeEventListener('cancel', onCancel)
      if (dialog.open) dialog.close()
      resolve(confirmed)
    }
    const onCancel = () => done(false)
    const onSubmit = async (event: SubmitEvent) => {
      event.preventDefault()
      try {
        await confirm()
        done(true)
      } catch (error) {
        errorLine.textContent = (error as Error).message
      }
    }
    form.addEventListener('submit', onSubmit)
    cancel.addEventListener('click', onCancel)
    dialog.addEventListener('cancel', onCancel)
  })
}
