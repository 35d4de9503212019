"""A gateway harness for tests: settings from a dict, real plugins, a running Gateway.

::

    async with gateway_harness(
        {"plugins": {"enabled": ["consumer-examples"]}, "gateway": {"consumers": ["printer"]}},
        clock=FakeClock(),
    ) as gw:
        ack = await gw.request(Subscribe(...))

The pytest plugin exposes it as the ``gateway_harness`` fixture. Settings go through the
same two-phase start-up as ``tradegw run`` (plugins enabled -> sections -> validation), so
a test sees exactly the errors a user would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from tradegw_core.clock import Clock
from tradegw_core.config.loader import load_config_mapping

__all__ = ["gateway_harness"]


@asynccontextmanager
async def gateway_harness(
    config: Mapping[str, Any] | None = None, *, clock: Clock | None = None, **options: Any
) -> AsyncIterator[Any]:
    """Start a ``tradegw_core.gateway.Gateway`` from ``config``; stop it on exit.

    ``options`` go to ``Gateway`` (``metrics``, ``telemetry``, ``order_service``...).
    """
    from tradegw_core.gateway import Gateway

    loaded = load_config_mapping(config or {})
    async with Gateway(loaded.settings, loaded.registries, clock=clock, **options) as gateway:
        yield gateway
