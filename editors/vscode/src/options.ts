// Pure functions that build what the extension hands to vscode-languageclient, so that they can be
// unit-tested without VS Code (test/options.test.ts).

export const SECTION = "codexLs"

/** The languages codex-ls completes (the server's tree-sitter grammars). */
export const LANGUAGES = ["python", "javascript", "javascriptreact", "typescript", "typescriptreact", "go", "rust", "java", "c", "cpp"]

/** Read access to the `codexLs` configuration section (a `vscode.WorkspaceConfiguration`). */
export interface ConfigLike {
  get<T>(key: string, defaultValue?: T): T | undefined
}

export interface Executable {
  command: string
  args: string[]
  options?: { env?: Record<string, string | undefined> }
}

/** How to start the server: `codexLs.server.path` and `codexLs.server.args`, over stdio. */
export function buildServerOptions(config: ConfigLike): { run: Executable; debug: Executable } {
  const command = config.get<string>("server.path", "codex-ls") || "codex-ls"
  const args = [...(config.get<string[]>("server.args", []) ?? [])]
  const exe: Executable = { command, args }
  return { run: exe, debug: { ...exe, args: [...args, "--log-level", "DEBUG"] } }
}

/**
 * The server settings from a flat `codexLs.*` configuration: `{model: {path: ...}, completion: {...}}`.
 * `keys` are the dotted keys below `codexLs` (from package.json); `server.*` stays on the client.
 * Values left at `null`/`undefined` are not sent, so the server's defaults apply.
 */
export function serverSettings(config: ConfigLike, keys: string[]): Record<string, any> {
  const out: Record<string, any> = {}
  for (const key of keys) {
    if (key.startsWith("server.")) continue
    const value = config.get(key)
    if (value === undefined || value === null) continue
    let node = out
    const parts = key.split(".")
    for (const part of parts.slice(0, -1)) node = node[part] ??= {}
    node[parts[parts.length - 1]] = value
  }
  return out
}

/** The `LanguageClientOptions` (without VS Code objects) the extension builds. */
export function buildClientOptions(config: ConfigLike, keys: string[]) {
  return {
    documentSelector: LANGUAGES.flatMap((language) => [
      { scheme: "file", language },
      { scheme: "untitled", language },
    ]),
    initializationOptions: serverSettings(config, keys),
    synchronize: { configurationSection: SECTION },
    outputChannelName: "codex-ls",
  }
}

export type Status = { text: string; tooltip: string; state: "starting" | "loading" | "ready" | "error" }

/** The status bar text for a work-done progress value of the model load (`$/progress`). */
export function statusForProgress(value: { kind: string; title?: string; message?: string; percentage?: number }): Status {
  if (value.kind === "end") {
    const failed = /fail/i.test(value.message ?? "")
    return failed
      ? { text: "$(error) codex-ls", tooltip: `codex-ls: ${value.message}`, state: "error" }
      : { text: "$(check) codex-ls", tooltip: "codex-ls: model ready", state: "ready" }
  }
  const pct = value.percentage !== undefined ? ` ${value.percentage}%` : ""
  return { text: `$(sync~spin) codex-ls${pct}`, tooltip: `codex-ls: loading model: ${value.message ?? value.title ?? ""}`, state: "loading" }
}

/** The status bar text after a `window/showMessage` (type 1 = Error, 2 = Warning). */
export function statusForMessage(type: number, message: string, previous: Status): Status {
  if (type === 1) return { text: "$(error) codex-ls", tooltip: message, state: "error" }
  if (type === 2) return { ...previous, text: previous.text.replace("$(check)", "$(warning)"), tooltip: message }
  return previous
}
