"""The loopback-only network guard the test suite runs under.

Tests may talk to servers they start on loopback; anything else is refused, so a test can
never depend on (or leak to) the internet. The guard patches ``socket.socket.connect``,
``connect_ex`` and ``socket.create_connection`` and records every refusal so the test fails
even when the code under test swallows the exception.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["NetworkGuard", "NonLoopbackConnectionError", "is_loopback_address"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class NonLoopbackConnectionError(RuntimeError):
    """A test tried to connect to something other than loopback.

    Deliberately not an ``OSError``: reconnect loops that retry on ``OSError`` must not
    hide it.
    """


def is_loopback_address(address: Any) -> bool:
    """True for loopback IP addresses, ``localhost`` and Unix socket paths."""
    if isinstance(address, str | bytes):
        return True  # AF_UNIX path: local by definition
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False  # a host name: never resolved, never allowed


class NetworkGuard:
    """Refuses and records non-loopback connections while :meth:`active`."""

    def __init__(self) -> None:
        self.violations: list[str] = []

    def _refuse(self, address: Any) -> NonLoopbackConnectionError:
        message = (
            f"test tried to connect to {address!r}: only loopback is allowed in tests "
            "(start a local server or an emulator instead)"
        )
        self.violations.append(message)
        return NonLoopbackConnectionError(message)

    @contextmanager
    def active(self) -> Iterator[NetworkGuard]:
        """Patch the socket module for the duration of the block."""
        original_connect: Callable[..., Any] = socket.socket.connect
        original_connect_ex: Callable[..., Any] = socket.socket.connect_ex
        original_create: Callable[..., Any] = socket.create_connection
        guard = self

        def connect(sock: socket.socket, address: Any) -> None:
            if not is_loopback_address(address):
                raise guard._refuse(address)
            original_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            if not is_loopback_address(address):
                raise guard._refuse(address)
            result: int = original_connect_ex(sock, address)
            return result

        def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
            if not is_loopback_address(address):
                raise guard._refuse(address)
            sock: socket.socket = original_create(address, *args, **kwargs)
            return sock

        socket.socket.connect = connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
        socket.create_connection = create_connection
        try:
            yield self
        finally:
            socket.socket.connect = original_connect  # type: ignore[method-assign]
            socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
            socket.create_connection = original_create
