// The codex-ls web editor: CodeMirror 6 + @codemirror/lsp-client over a WebSocket to `codex-ls web`.
// The client declares textDocument.inlineCompletion, so codex-ls answers with ghost text, which
// this file shows as a widget at the cursor; Tab or the Accept button (touch) inserts it.

import { EditorView, basicSetup } from "codemirror"
import { Decoration, WidgetType, ViewPlugin, keymap } from "@codemirror/view"
import { StateEffect, StateField, Prec } from "@codemirror/state"
import { python } from "@codemirror/lang-python"
import { LSPClient, LSPPlugin } from "@codemirror/lsp-client"

const DOC_URI = "file:///codex-ls-web/main.py"
const DEBOUNCE_MS = 300
const SAMPLE = `def fibonacci(n: int) -> int:
    """Return the n-th Fibonacci number."""
    `

const statusEl = document.getElementById("status")
const acceptBtn = document.getElementById("accept")
const dismissBtn = document.getElementById("dismiss")
const suggestBtn = document.getElementById("suggest")

function setStatus(text, kind = "") {
  statusEl.textContent = text
  statusEl.className = kind
}

// ---- transport: one JSON-RPC message per WebSocket frame -------------------------------------
// Server-to-client requests the lsp-client does not implement are answered here.
function webSocketTransport(url) {
  let handlers = []
  const sock = new WebSocket(url)
  const reply = (id, result) => sock.send(JSON.stringify({ jsonrpc: "2.0", id, result }))
  sock.onmessage = (event) => {
    const text = event.data.toString()
    const msg = JSON.parse(text)
    if (msg.method === "window/workDoneProgress/create" && "id" in msg) return reply(msg.id, null)
    if (msg.method === "workspace/configuration" && "id" in msg) return reply(msg.id, msg.params.items.map(() => null))
    for (const h of handlers) h(text)
  }
  sock.onclose = () => setStatus("disconnected from codex-ls (reload the page)", "error")
  return new Promise((resolve, reject) => {
    sock.onerror = () => reject(new Error(`cannot connect to ${url}`))
    sock.onopen = () => resolve({
      send: (message) => sock.send(message),
      subscribe: (handler) => { handlers.push(handler) },
      unsubscribe: (handler) => { handlers = handlers.filter((h) => h !== handler) },
    })
  })
}

// ---- ghost text -------------------------------------------------------------------------------
const setGhost = StateEffect.define()

class GhostWidget extends WidgetType {
  constructor(text) { super(); this.text = text }
  eq(other) { return other.text === this.text }
  toDOM(view) {
    const span = document.createElement("span")
    span.className = "cm-ghost"
    span.textContent = this.text
    span.addEventListener("mousedown", (e) => { e.preventDefault(); accept(view) })
    return span
  }
  ignoreEvent() { return false }
}

// {from, to, text} of the suggestion shown, or null. Any edit or cursor move hides it.
const ghostField = StateField.define({
  create: () => null,
  update(value, tr) {
    for (const e of tr.effects) if (e.is(setGhost)) return e.value
    return tr.docChanged || tr.selection ? null : value
  },
  provide: (field) => EditorView.decorations.from(field, (g) =>
    g ? Decoration.set([Decoration.widget({ widget: new GhostWidget(g.text), side: 1 }).range(g.to)]) : Decoration.none),
})

function accept(view) {
  const g = view.state.field(ghostField)
  if (!g) return false
  const end = g.from + g.text.length
  view.dispatch({ changes: { from: g.from, to: g.to, insert: g.text }, selection: { anchor: end }, userEvent: "input.complete" })
  view.focus()
  return true
}

function dismiss(view) {
  if (!view.state.field(ghostField)) return false
  view.dispatch({ effects: setGhost.of(null) })
  return true
}

let requestSeq = 0
async function requestSuggestion(view, triggerKind) {
  const plugin = LSPPlugin.get(view)
  if (!plugin || !plugin.client.connected) return
  const seq = ++requestSeq
  const doc = view.state.doc
  const head = view.state.selection.main.head
  plugin.client.sync()
  let result
  try {
    result = await plugin.client.request("textDocument/inlineCompletion", {
      textDocument: { uri: plugin.uri },
      position: plugin.toPosition(head, doc),
      context: { triggerKind },
    })
  } catch (err) {
    if (seq === requestSeq) setStatus(`completion failed: ${err.message || err}`, "error")
    return
  }
  window.codexLs.lastResult = result
  const items = result ? (result.items || result) : []
  // Drop an answer that is stale: the user typed or moved meanwhile.
  if (seq !== requestSeq || view.state.doc !== doc || view.state.selection.main.head !== head || !items.length) return
  const item = items[0]
  const text = typeof item.insertText === "string" ? item.insertText : item.insertText.value
  const from = item.range ? plugin.fromPosition(item.range.start, doc) : head
  const to = item.range ? plugin.fromPosition(item.range.end, doc) : head
  if (!text) return
  view.dispatch({ effects: setGhost.of({ from, to, text }) })
}

const autoRequest = ViewPlugin.fromClass(class {
  constructor(view) { this.view = view; this.timer = null }
  update(update) {
    const g = update.state.field(ghostField)
    acceptBtn.disabled = dismissBtn.disabled = !g
    if (update.docChanged || update.selectionSet) {
      requestSeq++ // any answer in flight is now stale
      clearTimeout(this.timer)
      if (update.docChanged && !update.transactions.some((tr) => tr.isUserEvent("input.complete")))
        this.timer = setTimeout(() => requestSuggestion(this.view, 2 /* Automatic */), DEBOUNCE_MS)
      localStorage.setItem("codex-ls-web-doc", update.state.doc.toString())
    }
  }
  destroy() { clearTimeout(this.timer) }
})

const ghostKeys = Prec.highest(keymap.of([
  { key: "Tab", run: accept },
  { key: "Escape", run: dismiss },
  { key: "Alt-\\", run: (view) => { requestSuggestion(view, 1 /* Invoked */); return true } },
]))

// ---- the client and the page ------------------------------------------------------------------
const progress = {
  "$/progress": (_client, params) => {
    const v = params.value || {}
    if (v.kind === "begin") setStatus(`${v.title || "loading"}: ${v.message || ""}`)
    else if (v.kind === "report") setStatus(`loading model: ${v.message || ""}${v.percentage != null ? ` ${v.percentage}%` : ""}`)
    else if (v.kind === "end") setStatus(v.message || "ready", /fail/.test(v.message || "") ? "error" : "ready")
    return true
  },
  "window/showMessage": (_client, params) => {
    setStatus(params.message, params.type <= 2 ? "error" : "")
    return true
  },
}

async function main() {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/lsp`
  let transport
  try {
    transport = await webSocketTransport(url)
  } catch (err) {
    setStatus(err.message, "error")
    return
  }
  const client = new LSPClient({
    rootUri: "file:///codex-ls-web",
    timeout: 120000,
    extensions: [{
      clientCapabilities: { textDocument: { inlineCompletion: {} }, window: { workDoneProgress: true } },
      notificationHandlers: progress,
    }],
  }).connect(transport)
  setStatus("starting codex-ls…")
  client.initializing.then(() => { if (statusEl.textContent.startsWith("starting")) setStatus("connected; the model loads on first use") })
    .catch((err) => setStatus(`initialize failed: ${err.message || err}`, "error"))

  const view = new EditorView({
    doc: localStorage.getItem("codex-ls-web-doc") ?? SAMPLE,
    extensions: [basicSetup, python(), ghostKeys, ghostField, autoRequest, client.plugin(DOC_URI, "python")],
    parent: document.getElementById("editor"),
  })
  // Buttons use pointerdown so the editor keeps focus (and the tablet keyboard stays up).
  const onTap = (button, action) => button.addEventListener("pointerdown", (e) => { e.preventDefault(); action() })
  onTap(acceptBtn, () => accept(view))
  onTap(dismissBtn, () => dismiss(view))
  onTap(suggestBtn, () => requestSuggestion(view, 1 /* Invoked */))
  window.codexLs = { view, client, lastResult: null, ghost: () => view.state.field(ghostField) }
}

main()
