// codex-ls for VS Code: starts the codex-ls language server over stdio with vscode-languageclient.
// Inline completion (ghost text) comes from the client's inline completion feature; the status bar
// follows the model load (work-done progress) and errors (window/showMessage).

import * as vscode from "vscode"
import {
  LanguageClient, ShowMessageNotification, WorkDoneProgress, WorkDoneProgressCreateRequest,
} from "vscode-languageclient/node"
import { buildClientOptions, buildServerOptions, SECTION, Status, statusForMessage, statusForProgress } from "./options"

let client: LanguageClient | undefined
let statusItem: vscode.StatusBarItem

function settingKeys(context: vscode.ExtensionContext): string[] {
  const props = context.extension.packageJSON.contributes.configuration.properties as Record<string, unknown>
  return Object.keys(props).map((k) => k.slice(SECTION.length + 1))
}

function show(status: Status) {
  statusItem.text = status.text
  statusItem.tooltip = status.tooltip
  statusItem.backgroundColor = status.state === "error" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined
  statusItem.show()
}

async function start(context: vscode.ExtensionContext) {
  const config = vscode.workspace.getConfiguration(SECTION)
  const options = buildClientOptions(config, settingKeys(context))
  client = new LanguageClient("codexLs", "codex-ls", buildServerOptions(config), options)
  // In vscode-languageclient 9, textDocument/inlineCompletion is the one "proposed" feature:
  // registering it makes the client declare the capability, so codex-ls sends ghost text.
  client.registerProposedFeatures()
  let status: Status = { text: "$(sync~spin) codex-ls", tooltip: "codex-ls: starting", state: "starting" }
  show(status)
  await client.start()
  // The model load is reported with work-done progress: follow it in the status bar.
  client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
    client!.onProgress(WorkDoneProgress.type, token, (value) => { status = statusForProgress(value as any); show(status) })
    return null
  })
  client.onNotification(ShowMessageNotification.type, ({ type, message }) => {
    status = statusForMessage(type, message, status)
    show(status)
    if (type === 1) vscode.window.showErrorMessage(message)
    else if (type === 2) vscode.window.showWarningMessage(message)
  })
  if (status.state === "starting") show({ text: "$(check) codex-ls", tooltip: "codex-ls: running (the model loads on first use)", state: "ready" })
}

export async function activate(context: vscode.ExtensionContext) {
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100)
  statusItem.command = "codexLs.showOutput"
  context.subscriptions.push(
    statusItem,
    vscode.commands.registerCommand("codexLs.codeActions", () =>
      // codex-ls's code actions are refactor.rewrite.codexLs.*: list them at the cursor or selection.
      vscode.commands.executeCommand("editor.action.codeAction", { kind: "refactor.rewrite.codexLs" })),
    vscode.commands.registerCommand("codexLs.restart", async () => { await client?.stop(); await start(context) }),
    vscode.commands.registerCommand("codexLs.showOutput", () => client?.outputChannel.show()),
  )
  await start(context)
}

export async function deactivate() {
  await client?.stop()
}
