"""The spec's quality gates, enforced by the test suite itself."""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest

from tradegw_core.testing.guard import NetworkGuard, NonLoopbackConnectionError

ROOT = Path(__file__).resolve().parents[2]
WORDS = ("leg" + "acy", "dep" + "recated", "sh" + "im", "feature" + "_flag")
PATTERN = re.compile(r"(?<![a-z])(" + "|".join(WORDS) + r")s?(?![a-z])", re.IGNORECASE)


def source_files() -> list[Path]:
    """Tracked (and not ignored new) source files: *.py, *.toml, Makefile, .ci/*."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.splitlines()
        paths = [ROOT / p for p in listed]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in ROOT.rglob("*") if ".venv" not in p.parts and ".git" not in p.parts]
    me = Path(__file__).resolve()
    return [
        p
        for p in paths
        if p.is_file()
        and p.resolve() != me
        and (p.suffix in (".py", ".toml") or p.name == "Makefile" or ".ci" in p.parts)
    ]


def test_the_scan_sees_the_project() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in source_files()}
    assert {"pyproject.toml", "Makefile", ".ci/run", "tradegw_core/cli.py"} <= names


def test_no_backward_compatibility_words_in_source() -> None:
    hits = []
    for path in source_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if PATTERN.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not hits, "forbidden words (no backward-compatibility code paths):\n" + "\n".join(hits)


def test_the_word_pattern_matches_what_it_should() -> None:
    assert PATTERN.search("a " + WORDS[0] + "_mode here")
    assert PATTERN.search(WORDS[3].upper() + "S")
    assert not PATTERN.search("Hashimoto")


def test_non_loopback_connections_are_refused_by_the_active_guard(
    tradegw_network_guard: NetworkGuard,
) -> None:
    with socket.socket() as sock, pytest.raises(NonLoopbackConnectionError, match="loopback"):
        sock.connect(("192.0.2.1", 443))
    with pytest.raises(NonLoopbackConnectionError):
        socket.create_connection(("example.com", 80), timeout=1)
    with socket.socket() as sock, pytest.raises(NonLoopbackConnectionError):
        sock.connect_ex(("10.1.2.3", 80))
    assert len(tradegw_network_guard.violations) == 3
    tradegw_network_guard.violations.clear()  # these were on purpose; do not fail this test


def test_loopback_connections_are_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            peer, _ = server.accept()
            peer.close()
            assert client.getpeername()[1] == port
        with socket.socket() as other:
            assert other.connect_ex(("localhost", port)) == 0
