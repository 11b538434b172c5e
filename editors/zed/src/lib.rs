//! Zed extension: starts `codex-ls` (found on PATH) over stdio for the languages in extension.toml.
use zed_extension_api::{self as zed, LanguageServerId, Result};

struct CodexLs;

impl zed::Extension for CodexLs {
    fn new() -> Self {
        CodexLs
    }

    fn language_server_command(&mut self, _id: &LanguageServerId, worktree: &zed::Worktree) -> Result<zed::Command> {
        let command = worktree
            .which("codex-ls")
            .ok_or_else(|| "codex-ls is not on PATH: pip install codex-ls".to_string())?;
        Ok(zed::Command { command, args: vec![], env: Default::default() })
    }
}

zed::register_extension!(CodexLs);
