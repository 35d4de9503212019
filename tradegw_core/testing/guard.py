"""The loopback-only network guard the test suite runs under.

Tests may talk to servers they start on loopback; anything else is refused, so a test can
never depend on (or leak to) the internet. The guard patches ``socket.socket.connect``,
``connect_ex``, ``sendto`` (UDP), ``socket.create_connection`` and ``socket.getaddrinfo``
(no name lookup but ``localhost`` and numeric loopback, so no DNS query leaves the machine)
and records every refusal so the test fails even when the code under test swallows the
exception.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "NetworkGuard",
    "NonLoopbackConnectionError",
    "is_loopback_address",
    "is_loopback_host",
]

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
    return host is not None and is_loopback_host(host)


def is_loopback_host(host: Any) -> bool:
    """True for ``localhost`` names and numeric loopback addresses (``127.x``, ``::1``)."""
    if isinstance(host, bytes):
        try:
            host = host.decode()
        except UnicodeDecodeError:
            return False
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

    def _refuse(self, address: Any, action: str = "connect to") -> NonLoopbackConnectionError:
        message = (
            f"test tried to {action} {address!r}: only loopback is allowed in tests "
            "(start a local server or an emulator instead)"
        )
        self.violations.append(message)
        return NonLoopbackConnectionError(message)

    @contextmanager
    def active(self) -> Iterator[NetworkGuard]:
        """Patch the socket module for the duration of the block."""
        original_connect: Callable[..., Any] = socket.socket.connect
        original_connect_ex: Callable[..., Any] = socket.socket.connect_ex
        original_sendto: Callable[..., Any] = socket.socket.sendto
        original_create: Callable[..., Any] = socket.create_connection
        original_getaddrinfo: Callable[..., Any] = socket.getaddrinfo
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

        def sendto(sock: socket.socket, data: Any, *args: Any) -> int:
            # sendto(data, address) or sendto(data, flags, address)
            if not args or not is_loopback_address(args[-1]):
                raise guard._refuse(args[-1] if args else None, "send a datagram to")
            sent: int = original_sendto(sock, data, *args)
            return sent

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            # None asks for the local host (a listener's wildcard or loopback): no lookup
            if host is not None and not is_loopback_host(host):
                raise guard._refuse(host, "resolve")
            return original_getaddrinfo(host, *args, **kwargs)

        def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
            if not is_loopback_address(address):
                raise guard._refuse(address)
            sock: socket.socket = original_create(address, *args, **kwargs)
            return sock

        socket.socket.connect = connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
        socket.socket.sendto = sendto  # type: ignore[method-assign,assignment]
        socket.create_connection = create_connection
        socket.getaddrinfo = getaddrinfo
        try:
            yield self
        finally:
            socket.socket.connect = original_connect  # type: ignore[method-assign]
            socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
            socket.socket.sendto = original_sendto  # type: ignore[method-assign]
            socket.create_connection = original_create
            socket.getaddrinfo = original_getaddrinfo
