"""``python -m codex_ls``: the same entry point as the ``codex-ls`` console script."""

from codex_ls.cli import main

raise SystemExit(main())
