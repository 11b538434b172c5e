"""The benchmarks' ``--json`` files: JSON, gzip-compressed when the name ends in ``.gz``.

Shared by ``humaneval_infilling.py`` and ``latency.py`` (both put this directory on
``sys.path``), so every result file under ``benchmarks/results/`` reads the same way.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path


def read_json(path: Path) -> dict:
    """A ``--json`` file, gzip-compressed when its name ends in ``.gz``. Raises ``OSError`` or
    ``ValueError`` (not JSON)."""
    data = Path(path).read_bytes()
    return json.loads(gzip.decompress(data) if str(path).endswith(".gz") else data)


def write_json(path: Path, payload: dict) -> None:
    """Write ``payload`` as the ``--json`` file ``path``, gzip-compressed (``mtime`` 0, so the same
    payload gives the same bytes) when its name ends in ``.gz``."""
    data = json.dumps(payload, indent=1).encode("utf-8")
    Path(path).write_bytes(gzip.compress(data, mtime=0) if str(path).endswith(".gz") else data)
