// The chat widget: sign in with an API key, then chat. Wires the views to the API and the URL.
import { Api, type ConversationDetail } from './api.ts'
import { Live } from './live.ts'
import { conversationInHash, goTo, replaceWith } from './route.ts'
import { confirmDialog, Sidebar } from './sidebar.ts'
import { Thread } from './thread.ts'

const KEY_STORAGE = 'assistant-server.api-key'
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

const ui = {
  whoami: $('whoami'),
  changeKey: $<HTMLButtonElement>('change-key'),
  keyPanel: $('key-panel'),
  keyForm: $<HTMLFormElement>('key-form'),
  keyInput: $<HTMLInputElement>('key-input'),
  keyError: $('key-error'),
  chat: $('chat'),
  newChat: $<HTMLButtonElement>('new-chat'),
  title: $('thread-title'),
  rename: $<HTMLButtonElement>('rename'),
  remove: $<HTMLButtonElement>('delete'),
  status: $('status'),
  composerError: $('composer-error'),
  composer: $<HTMLFormElement>('composer'),
  input: $<HTMLTextAreaElement>('message-input'),
  send: $<HTMLButtonElement>('send'),
  stop: $<HTMLButtonElement>('stop'),
  regenerate: $<HTMLButtonElement>('regenerate'),
}

const api = new Api()
const thread = new Thread($('messages'))
const sidebar = new Sidebar(api)
let conversationId: string | null = null
/** Bumped on every navigation, so a slow load for a conversation left behind draws nothing. */
let view = 0

function setStatus(text: string, kind: 'info' | 'error' = 'info'): void {
  ui.status.textContent = text
  ui.status.classList.toggle('error', kind === 'error')
}

function canRegenerate(): boolean {
  return !live.running && conversationId !== null && thread.list.querySelector('.message.user') !== null
}

function setBusy(busy: boolean): void {
  ui.send.disabled = busy
  ui.stop.disabled = !busy
  ui.regenerate.disabled = busy || !canRegenerate()
}

const live = new Live(api, thread, {
  status: setStatus,
  busy: setBusy,
  created(id) {
    conversationId = id
    replaceWith(id)
    showHead()
    void sidebar.load()
  },
  finished() {
    void sidebar.load().then(showHead)
    setBusy(false)
  },
})

function showHead(): void {
  ui.title.textContent = conversationId ? sidebar.titles.get(conversationId) || 'Untitled' : 'New chat'
  ui.rename.hidden = ui.remove.hidden = conversationId === null
  document.title = conversationId ? `${ui.title.textContent} · assistant-server` : 'assistant-server'
}

// ---- key --------------------------------------------------------------------------------------

function askForKey(message = ''): void {
  live.detach()
  ui.chat.hidden = true
  ui.changeKey.hidden = true
  ui.whoami.textContent = ''
  ui.keyPanel.hidden = false
  ui.keyError.textContent = message
  ui.keyInput.value = ''
  ui.keyInput.focus()
}

api.onUnauthorized = () => askForKey('That API key was not accepted.')

async function signIn(): Promise<void> {
  const me = await api.json<{ id: string }>('/me')
  ui.whoami.textContent = `signed in as ${me.id}`
  ui.keyPanel.hidden = true
  ui.chat.hidden = false
  ui.changeKey.hidden = false
  sidebar.show()
  await sidebar.load()
  await openFromUrl()
  ui.input.focus()
}

ui.keyForm.addEventListener('submit', async (event) => {
  event.preventDefault()
  api.key = ui.keyInput.value.trim()
  ui.keyError.textContent = ''
  try {
    await signIn()
    localStorage.setItem(KEY_STORAGE, api.key)
  } catch (error) {
    if (!ui.keyPanel.hidden) ui.keyError.textContent = ui.keyError.textContent || (error as Error).message
  }
})

ui.changeKey.addEventListener('click', () => {
  localStorage.removeItem(KEY_STORAGE)
  askForKey()
})

// ---- conversations ----------------------------------------------------------------------------

/** Shows the conversation the URL names (`force`: even when it is the one shown). */
async function openFromUrl(force = false): Promise<void> {
  const id = conversationInHash()
  if (!force && id === conversationId && (id === null || thread.list.childElementCount > 0)) return
  live.detach()
  conversationId = id
  const mine = ++view
  thread.clear()
  setStatus('')
  ui.composerError.textContent = ''
  sidebar.mark(id)
  showHead()
  setBusy(false)
  if (id === null) return
  let conversation: ConversationDetail
  try {
    conversation = await api.json(`/conversations/${encodeURIComponent(id)}?messages_limit=100`)
  } catch (error) {
    if (mine === view) setStatus((error as Error).message, 'error')
    return
  }
  if (mine !== view) return
  sidebar.titles.set(id, conversation.title)
  showHead()
  for (const message of conversation.messages) {
    if (message.role === 'user') thread.addUser(message.content)
    else if (message.role === 'assistant') {
      for (const call of message.tools ?? []) thread.addToolCall(call)
      const reply = thread.addReply(message.content)
      if (message.status === 'stopped') reply.note('Stopped')
      else if (message.status === 'error') reply.note('The reply failed', 'error')
    }
  }
  setBusy(false)
  // A question without an answer yet: the reply is probably still being generated (a reload, another tab).
  if (conversation.messages.at(-1)?.role === 'user') await live.attach(id)
}

window.addEventListener('hashchange', () => {
  if (!ui.chat.hidden) void openFromUrl()
})

ui.newChat.addEventListener('click', () => {
  goTo(null)
  ui.input.focus()
})

ui.rename.addEventListener('click', async () => {
  const id = conversationId
  if (!id) return
  const dialog = $<HTMLDialogElement>('rename-dialog')
  const input = $<HTMLInputElement>('rename-input')
  input.value = sidebar.titles.get(id) ?? ''
  const renamed = await confirmDialog(dialog, $('rename-error'), async () => {
    await api.send('PUT', `/conversations/${encodeURIComponent(id)}`, { title: input.value.trim() })
  })
  if (!renamed) return ui.rename.focus()
  sidebar.titles.set(id, input.value.trim())
  showHead()
  await sidebar.load()
  ui.rename.focus()
})

ui.remove.addEventListener('click', async () => {
  const id = conversationId
  if (!id) return
  $('delete-text').textContent = `“${sidebar.titles.get(id) || 'Untitled'}” and all its messages will be deleted. This cannot be undone.`
  const deleted = await confirmDialog($<HTMLDialogElement>('delete-dialog'), $('delete-error'), async () => {
    await api.send('DELETE', `/conversations/${encodeURIComponent(id)}`)
  })
  if (!deleted) return ui.remove.focus()
  await sidebar.load()
  goTo(null)
  ui.input.focus()
})

// ---- composer ---------------------------------------------------------------------------------

async function submit(text: string, regenerate: boolean): Promise<void> {
  ui.composerError.textContent = ''
  const turn = regenerate ? thread.lastTurn() : null
  if (regenerate) {
    if (!turn) return
    thread.removeAfter(turn.user)
  }
  const user = regenerate ? null : thread.addUser(text)
  setBusy(true)
  try {
    const { done } = await live.send(conversationId, regenerate ? turn!.text : text, regenerate)
    if (!regenerate) ui.input.value = ''
    await done
  } catch (error) {
    // Refused before anything streamed: nothing was stored, so the message goes back to the box
    // (a refused regenerate changed nothing either: show the stored turn again).
    user?.remove()
    if (regenerate) await openFromUrl(true)
    setBusy(false)
    if (!ui.chat.hidden) {
      ui.composerError.textContent = (error as Error).message
      ui.input.focus()
    }
  }
}

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault()
  const text = ui.input.value.trim()
  if (!text || live.running) return
  void submit(text, false)
})

ui.input.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault()
    ui.composer.requestSubmit()
  }
})

ui.stop.addEventListener('click', () => void live.stop())
ui.regenerate.addEventListener('click', () => {
  if (canRegenerate()) void submit('', true)
})

// ---- start ------------------------------------------------------------------------------------

api.key = localStorage.getItem(KEY_STORAGE) ?? ''
if (api.key) signIn().catch((error) => ui.keyPanel.hidden && askForKey((error as Error).message))
else askForKey()
