"""codex-ls: a language server for inline code completion from a local, quantized code model."""

__version__ = "0.1.0"
