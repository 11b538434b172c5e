"""Test helpers for codex-ls (tiny synthetic models and the like); not used at runtime."""
