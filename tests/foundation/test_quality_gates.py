"""The spec's quality gates, enforced by the test suite itself."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import anyio
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


def test_udp_datagrams_to_non_loopback_are_refused(tradegw_network_guard: NetworkGuard) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(NonLoopbackConnectionError, match="send a datagram to"):
            sock.sendto(b"ping", ("192.0.2.7", 53))
        with pytest.raises(NonLoopbackConnectionError):
            sock.sendto(b"ping", 0, ("198.51.100.1", 123))  # the (data, flags, address) form
    assert len(tradegw_network_guard.violations) == 2
    assert "192.0.2.7" in tradegw_network_guard.violations[0]
    tradegw_network_guard.violations.clear()  # these were on purpose; do not fail this test


def test_udp_datagrams_to_loopback_are_delivered() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
    ):
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        assert sender.sendto(b"hello", receiver.getsockname()) == 5
        assert sender.sendto(b"again", 0, ("localhost", receiver.getsockname()[1])) == 5
        assert receiver.recvfrom(16)[0] == b"hello"
        assert receiver.recvfrom(16)[0] == b"again"


@pytest.mark.parametrize("host", ["example.com", b"pypi.org", "8.8.8.8", "0.0.0.0", ""])
def test_name_lookups_of_non_loopback_hosts_are_refused(
    tradegw_network_guard: NetworkGuard, host: str | bytes
) -> None:
    with pytest.raises(NonLoopbackConnectionError, match="tried to resolve"):
        socket.getaddrinfo(host, 443)
    assert len(tradegw_network_guard.violations) == 1
    tradegw_network_guard.violations.clear()  # on purpose; do not fail this test


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.2", "::1", None])
def test_name_lookups_of_loopback_hosts_are_allowed(host: str | None) -> None:
    flags = socket.AI_PASSIVE if host is None else 0
    infos = socket.getaddrinfo(host, 8080, type=socket.SOCK_STREAM, flags=flags)
    assert infos
    assert all(info[4][1] == 8080 for info in infos)


@pytest.mark.anyio
async def test_async_name_lookups_go_through_the_guard(
    tradegw_network_guard: NetworkGuard,
) -> None:
    # event loops resolve in a worker thread with socket.getaddrinfo: still refused
    with pytest.raises(NonLoopbackConnectionError):
        await anyio.getaddrinfo("www.example.org", 443)
    assert "www.example.org" in tradegw_network_guard.violations[0]
    tradegw_network_guard.violations.clear()  # on purpose; do not fail this test


def test_guard_restores_every_patched_function() -> None:
    originals = (
        socket.socket.sendto,
        socket.getaddrinfo,
        socket.create_connection,
        socket.socket.connect,
    )
    guard = NetworkGuard()
    with guard.active():
        assert socket.getaddrinfo is not originals[1]
        assert socket.socket.sendto is not originals[0]
    after = (
        socket.socket.sendto,
        socket.getaddrinfo,
        socket.create_connection,
        socket.socket.connect,
    )
    assert after == originals


def test_a_test_that_sleeps_past_the_timeout_fails(tmp_path: Path) -> None:
    (tmp_path / "test_slow.py").write_text(
        "import time\n\n\ndef test_hangs():\n    time.sleep(20)\n",
    )
    # the options of the real run (pyproject's [tool.pytest.ini_options]; the tradegw plugin
    # loads through its pytest11 entry point) with the per-test limit lowered to one second
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--import-mode=importlib",
            "-W",
            "error",
            "--timeout",
            "1",
            "test_slow.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Timeout" in output
    assert "1 failed" in output
    assert "test_hangs" in output
