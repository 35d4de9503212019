"""Locate the real captured exchange frames in ``../shared/data`` (read in place).

Tests that need them skip with a clear reason when the folder is absent (e.g. a clone
without the shared captures next to it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

__all__ = ["load_shared_json", "load_shared_jsonl", "repo_root", "shared_data_dir", "shared_file"]


def repo_root() -> Path:
    """The repository root (the folder holding the core's ``pyproject.toml``)."""
    return Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    """``<repo>/../shared/data``; may not exist."""
    return (repo_root() / ".." / "shared" / "data").resolve()


def shared_file(relpath: str | Path) -> Path:
    """The path of one shared capture; skips the calling test when it is absent."""
    base = shared_data_dir()
    path = base / relpath
    if not path.is_file():
        reason = (
            f"shared capture {relpath} not found in {base} "
            "(the ../shared/data folder is not checked out next to this repository)"
        )
        pytest.skip(reason)
    return path


def load_shared_json(relpath: str | Path) -> Any:
    """Parse one shared JSON capture; skips the calling test when it is absent."""
    return json.loads(shared_file(relpath).read_text(encoding="utf-8"))


def load_shared_jsonl(relpath: str | Path) -> list[Any]:
    """Parse a shared JSON-lines capture (blank lines ignored); skips when absent."""
    text = shared_file(relpath).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]
