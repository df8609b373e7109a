"""Where the interoperability corpus of real signatures lives (``../shared/corpus``).

``SIGARCHIVE_CORPUS`` overrides the location; otherwise ``<repo root>/../shared/corpus``.
The corpus is not part of the repository: tests that need it skip, saying why, when absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def corpus_root() -> Path:
    """The corpus directory (it may not exist)."""
    configured = os.environ.get("SIGARCHIVE_CORPUS")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "corpus"


def require_corpus(*parts: str) -> Path:
    """``corpus_root() / parts``, or skip the calling test when it is absent."""
    path = corpus_root().joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"interop corpus not found at {path} (set SIGARCHIVE_CORPUS to the corpus directory)"
        )
    return path
