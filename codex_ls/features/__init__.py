"""LSP feature handlers, one module per method group."""

from __future__ import annotations


def register_all(server) -> None:
    """Register every feature of codex-ls on ``server``."""
    from codex_ls.features import code_action, completion, documents, inline_completion, lifecycle

    lifecycle.register(server)
    documents.register(server)
    inline_completion.register(server)
    completion.register(server)
    code_action.register(server)
