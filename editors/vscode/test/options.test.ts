// Unit test of the options the extension hands to vscode-languageclient (run by `npm test`).
import { test } from "node:test"
import * as assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { buildClientOptions, buildServerOptions, LANGUAGES, serverSettings, statusForMessage, statusForProgress, ConfigLike } from "../src/options"

const pkg = JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8"))
const KEYS = Object.keys(pkg.contributes.configuration.properties).map((k: string) => k.replace(/^codexLs\./, ""))

/** A configuration with the package.json defaults, overridden by `values`. */
function config(values: Record<string, unknown> = {}): ConfigLike {
  return {
    get<T>(key: string, dflt?: T): T | undefined {
      if (key in values) return values[key] as T
      const prop = pkg.contributes.configuration.properties[`codexLs.${key}`]
      return (prop ? prop.default : dflt) as T
    },
  }
}

test("defaults start `codex-ls` over stdio and send no settings", () => {
  const server = buildServerOptions(config())
  assert.deepEqual(server.run, { command: "codex-ls", args: [] })
  assert.deepEqual(server.debug.args, ["--log-level", "DEBUG"])
  const client = buildClientOptions(config(), KEYS)
  assert.deepEqual(client.initializationOptions, Object.fromEntries(
    Object.entries(serverSettings(config(), KEYS)).filter(([, v]) => v !== undefined)))
  assert.equal(client.synchronize.configurationSection, "codexLs")
  assert.equal(client.outputChannelName, "codex-ls")
})

test("documents: every language of the server, saved files and untitled buffers", () => {
  const { documentSelector } = buildClientOptions(config(), KEYS)
  assert.equal(documentSelector.length, LANGUAGES.length * 2)
  assert.ok(documentSelector.some((s) => s.language === "python" && s.scheme === "file"))
  assert.ok(documentSelector.some((s) => s.language === "rust" && s.scheme === "untitled"))
})

test("user settings become nested server settings; null means the server default; server.* stays local", () => {
  const c = config({ "model.path": "/models/x.gguf", "completion.maxTokens": 32, "model.name": null, "server.path": "/opt/bin/codex-ls", "server.args": ["--model", "m"] })
  const opts = buildClientOptions(c, KEYS)
  assert.equal(opts.initializationOptions.model.path, "/models/x.gguf")
  assert.equal(opts.initializationOptions.completion.maxTokens, 32)
  assert.ok(!("name" in opts.initializationOptions.model))
  assert.ok(!("server" in opts.initializationOptions))
  assert.deepEqual(buildServerOptions(c).run, { command: "/opt/bin/codex-ls", args: ["--model", "m"] })
})

test("package.json mirrors the server's settings schema", () => {
  for (const key of ["model.path", "model.name", "completion.maxTokens", "completion.strategy", "logLevel"]) assert.ok(KEYS.includes(key), key)
  const strategy = pkg.contributes.configuration.properties["codexLs.completion.strategy"]
  assert.deepEqual(strategy.enum, ["syntax", "raw", "first-line"])
  assert.equal(pkg.contributes.configuration.properties["codexLs.completion.maxTokens"].type, "integer")
})

test("status bar: loading, ready, failed, error message", () => {
  assert.equal(statusForProgress({ kind: "begin", title: "codex-ls: loading model", message: "resolving model" }).state, "loading")
  assert.match(statusForProgress({ kind: "report", message: "assembling", percentage: 40 }).text, /40%/)
  const ready = statusForProgress({ kind: "end", message: "model ready" })
  assert.equal(ready.state, "ready")
  assert.equal(statusForProgress({ kind: "end", message: "model failed to load" }).state, "error")
  assert.equal(statusForMessage(1, "codex-ls: model not found", ready).state, "error")
  assert.equal(statusForMessage(3, "info", ready), ready)
})
