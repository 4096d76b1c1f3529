// The chat widget: plain DOM, no dependencies, no build step. Model output is only ever set with
// textContent, never parsed as HTML.
'use strict'

;(() => {
  const API = '/api/v1'
  const KEY_STORAGE = 'assistant-server.api-key'
  const MAX_RESUMES = 5

  const $ = (id) => document.getElementById(id)
  const ui = {
    whoami: $('whoami'),
    changeKey: $('change-key'),
    keyPanel: $('key-panel'),
    keyForm: $('key-form'),
    keyInput: $('key-input'),
    keyError: $('key-error'),
    chat: $('chat'),
    newChat: $('new-chat'),
    conversations: $('conversations'),
    more: $('more-conversations'),
    messages: $('messages'),
    status: $('status'),
    composer: $('composer'),
    input: $('message-input'),
    send: $('send'),
    stop: $('stop'),
  }

  const state = {
    key: localStorage.getItem(KEY_STORAGE) || '',
    conversationId: null,
    nextCursor: null,
    /** The generation being shown: { conversationId, lastEventId, controller, bubble, text, finished }. */
    live: null,
  }

  // ---- HTTP -------------------------------------------------------------------------------------

  function headers(extra) {
    return Object.assign({ authorization: `Bearer ${state.key}` }, extra)
  }

  async function problemText(res) {
    try {
      const body = await res.json()
      return body.detail || body.title || `HTTP ${res.status}`
    } catch {
      return `HTTP ${res.status}`
    }
  }

  async function api(path, init) {
    const res = await fetch(API + path, Object.assign({}, init, { headers: headers(init && init.headers) }))
    if (res.status === 401) {
      askForKey('That API key was not accepted.')
      throw new Error('unauthorized')
    }
    if (!res.ok) throw new Error(await problemText(res))
    return res.status === 204 ? null : res.json()
  }

  // ---- API key ----------------------------------------------------------------------------------

  function askForKey(message) {
    ui.chat.hidden = true
    ui.changeKey.hidden = true
    ui.keyPanel.hidden = false
    ui.keyError.textContent = message || ''
    ui.keyInput.value = ''
    ui.keyInput.focus()
  }

  ui.keyForm.addEventListener('submit', async (event) => {
    event.preventDefault()
    state.key = ui.keyInput.value.trim()
    try {
      await start()
      localStorage.setItem(KEY_STORAGE, state.key)
    } catch (error) {
      if (error.message !== 'unauthorized') ui.keyError.textContent = error.message
    }
  })

  ui.changeKey.addEventListener('click', () => {
    localStorage.removeItem(KEY_STORAGE)
    askForKey()
  })

  async function start() {
    const me = await api('/me')
    ui.whoami.textContent = `signed in as ${me.id}`
    ui.keyPanel.hidden = true
    ui.chat.hidden = false
    ui.changeKey.hidden = false
    await loadConversations(true)
    ui.input.focus()
  }

  // ---- Conversations ----------------------------------------------------------------------------

  async function loadConversations(reset) {
    const query = new URLSearchParams({ limit: '30' })
    if (!reset && state.nextCursor) query.set('cursor', state.nextCursor)
    let page
    try {
      page = await api(`/conversations?${query}`)
    } catch (error) {
      // The list is a convenience; chatting works without it.
      if (error.message !== 'unauthorized') setStatus(`Could not list conversations: ${error.message}`)
      return
    }
    if (reset) ui.conversations.replaceChildren()
    for (const conversation of page.data || []) {
      const item = document.createElement('li')
      const button = document.createElement('button')
      button.type = 'button'
      button.dataset.id = conversation.id
      button.textContent = conversation.title || 'Untitled'
      button.title = conversation.updated_at ? new Date(conversation.updated_at).toLocaleString() : ''
      button.addEventListener('click', () => openConversation(conversation.id))
      item.append(button)
      ui.conversations.append(item)
    }
    state.nextCursor = page.next_cursor || null
    ui.more.hidden = !state.nextCursor
    markCurrent()
  }

  ui.more.addEventListener('click', () => loadConversations(false))

  function markCurrent() {
    for (const button of ui.conversations.querySelectorAll('button')) {
      button.setAttribute('aria-current', String(button.dataset.id === state.conversationId))
    }
  }

  async function openConversation(id) {
    if (state.live && !state.live.finished) detachLive()
    state.conversationId = id
    markCurrent()
    ui.messages.replaceChildren()
    setStatus('')
    let last = null
    try {
      const conversation = await api(`/conversations/${encodeURIComponent(id)}?messages_limit=100`)
      for (const message of conversation.messages || []) {
        const bubble = addBubble(message.role, message.content)
        if (message.status && message.status !== 'complete') note(bubble, `(${message.status})`)
        last = message
      }
    } catch (error) {
      setStatus(error.message)
      return
    }
    // A user message without a reply yet: the reply is probably still generating (another tab, a
    // dropped connection), so follow it from its first event.
    if (last && last.role === 'user' && state.conversationId === id) await resume(id, 0, null)
  }

  ui.newChat.addEventListener('click', () => {
    if (state.live && !state.live.finished) detachLive()
    state.conversationId = null
    ui.messages.replaceChildren()
    markCurrent()
    setStatus('')
    ui.input.focus()
  })

  // ---- Messages ---------------------------------------------------------------------------------

  function addBubble(role, text) {
    const item = document.createElement('li')
    item.className = `message ${role}`
    const body = document.createElement('span')
    body.className = 'body'
    body.textContent = text
    item.append(body)
    ui.messages.append(item)
    ui.messages.scrollTop = ui.messages.scrollHeight
    return item
  }

  function note(bubble, text) {
    const span = document.createElement('span')
    span.className = 'note'
    span.textContent = text
    bubble.append(span)
  }

  function setStatus(text) {
    ui.status.textContent = text
  }

  function setBusy(busy) {
    ui.send.disabled = busy
    ui.stop.disabled = !busy
  }

  // ---- Streaming --------------------------------------------------------------------------------

  /** Reads an SSE body and calls onEvent({event, id, data}) per event; comments are skipped. */
  async function readEvents(body, onEvent) {
    const reader = body.getReader()
    const decoder = new TextDecoder()
    let buffer = ''
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n')
      let end
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const frame = { event: 'message', id: null, data: '' }
        let hasData = false
        for (const line of block.split('\n')) {
          if (line === '' || line.startsWith(':')) continue
          const colon = line.indexOf(':')
          const field = colon === -1 ? line : line.slice(0, colon)
          const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
          if (field === 'event') frame.event = value
          else if (field === 'id') frame.id = value
          else if (field === 'data') {
            frame.data += (hasData ? '\n' : '') + value
            hasData = true
          }
        }
        if (hasData) onEvent(frame)
      }
    }
  }

  function beginLive(conversationId) {
    const bubble = addBubble('assistant', '')
    bubble.classList.add('streaming')
    state.live = { conversationId, lastEventId: 0, controller: null, bubble, text: '', finished: false }
    setBusy(true)
    return state.live
  }

  function detachLive() {
    const live = state.live
    live.finished = true
    if (live.controller) live.controller.abort()
    live.bubble.classList.remove('streaming')
    setBusy(false)
  }

  function handleEvent(live, frame) {
    if (frame.id) live.lastEventId = Number(frame.id)
    let data
    try {
      data = JSON.parse(frame.data)
    } catch {
      return
    }
    const body = live.bubble.querySelector('.body')
    if (frame.event === 'message') {
      live.text += data.delta
      body.textContent = live.text
      ui.messages.scrollTop = ui.messages.scrollHeight
    } else if (frame.event === 'tool_call') {
      const tool = addBubble('tool', `→ ${data.name}(${JSON.stringify(data.arguments)})`)
      ui.messages.insertBefore(tool, live.bubble)
    } else if (frame.event === 'tool_result') {
      const text = data.error ? `✗ ${data.name}: ${data.error.detail}` : `← ${data.name}: ${JSON.stringify(data.result)}`
      ui.messages.insertBefore(addBubble('tool', text), live.bubble)
    } else if (frame.event === 'done') {
      finishLive(live, data.status === 'stopped' ? '(stopped)' : '')
    } else if (frame.event === 'error') {
      finishLive(live, `Error: ${data.detail || data.title}`)
    }
  }

  function finishLive(live, noteText) {
    if (live.finished) return
    live.finished = true
    live.bubble.classList.remove('streaming')
    if (noteText) note(live.bubble, noteText)
    if (state.live === live) {
      setBusy(false)
      setStatus('')
    }
    loadConversations(true)
  }

  /** Follows a response body; when it breaks off before the end, resumes from the last event id. */
  async function follow(live, res) {
    try {
      await readEvents(res.body, (frame) => handleEvent(live, frame))
    } catch {
      // The connection dropped; fall through to resume unless we detached on purpose.
    }
    if (!live.finished && state.live === live) await resume(live.conversationId, live.lastEventId, live)
  }

  /**
   * Attaches to the conversation's generation from `after` (Last-Event-ID) and follows it; retries
   * with backoff while the connection keeps dropping. With `live` it continues that bubble.
   */
  async function resume(conversationId, after, live) {
    for (let attempt = 0; attempt < MAX_RESUMES; attempt++) {
      if (live && (live.finished || state.live !== live)) return
      if (live) {
        setStatus('Connection lost; resuming…')
        await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** attempt, 4000)))
      }
      const controller = new AbortController()
      let res
      try {
        res = await fetch(`${API}/conversations/${encodeURIComponent(conversationId)}/stream`, {
          headers: headers({ 'last-event-id': String(after) }),
          signal: controller.signal,
        })
      } catch {
        continue
      }
      if (res.status === 204 || !res.ok) {
        const reason = res.status === 204 ? '(connection lost)' : `Error: ${await problemText(res)}`
        if (live) finishLive(live, reason)
        return
      }
      setStatus('')
      if (!live) live = beginLive(conversationId)
      live.controller = controller
      try {
        await readEvents(res.body, (frame) => handleEvent(live, frame))
      } catch {
        // dropped again
      }
      if (live.finished || state.live !== live) return
      after = live.lastEventId
    }
    if (live && !live.finished) finishLive(live, '(connection lost)')
  }

  async function send(text) {
    if (state.live && !state.live.finished) return
    addBubble('user', text)
    const live = beginLive(state.conversationId)
    setStatus('')
    const controller = new AbortController()
    live.controller = controller
    let res
    try {
      res = await fetch(`${API}/chat/stream`, {
        method: 'POST',
        headers: headers({ 'content-type': 'application/json' }),
        body: JSON.stringify(state.conversationId ? { message: text, conversation_id: state.conversationId } : { message: text }),
        signal: controller.signal,
      })
    } catch (error) {
      finishLive(live, `Error: ${error.message}`)
      return
    }
    if (!res.ok) {
      finishLive(live, `Error: ${await problemText(res)}`)
      if (res.status === 401) askForKey('That API key was not accepted.')
      return
    }
    live.conversationId = res.headers.get('x-conversation-id')
    if (!state.conversationId) {
      state.conversationId = live.conversationId
      loadConversations(true)
    }
    await follow(live, res)
  }

  ui.composer.addEventListener('submit', (event) => {
    event.preventDefault()
    const text = ui.input.value.trim()
    if (!text) return
    ui.input.value = ''
    send(text)
  })

  ui.input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault()
      ui.composer.requestSubmit()
    }
  })

  ui.stop.addEventListener('click', async () => {
    const live = state.live
    if (!live || live.finished || !live.conversationId) return
    ui.stop.disabled = true
    setStatus('Stopping…')
    try {
      // The stream then ends with `done` (status "stopped"), which updates the bubble.
      await api(`/conversations/${encodeURIComponent(live.conversationId)}/stop`, { method: 'POST' })
    } catch (error) {
      setStatus(error.message)
    }
  })

  if (state.key) start().catch((error) => askForKey(error.message === 'unauthorized' ? 'That API key was not accepted.' : error.message))
  else askForKey()
})()
