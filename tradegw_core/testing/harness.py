"""Gateway harnesses for tests: settings from a dict, real plugins, a running Gateway.

::

    async with gateway_harness(
        {"plugins": {"enabled": ["consumer-examples"]}, "gateway": {"consumers": ["printer"]}},
        clock=FakeClock(),
    ) as gw:
        ack = await gw.request(Subscribe(...))

The pytest plugin exposes it as the ``gateway_harness`` fixture. Settings go through the
same two-phase start-up as ``tradegw run`` (plugins enabled -> sections -> validation), so
a test sees exactly the errors a user would.

A provider plugin's end-to-end test runs its venue (or emulator) behind a real Gateway
with :func:`venue_gateway` and drives a test consumer::

    consumer = RecordingConsumer(["binance"], ["BTC-USDT"], [EventType.TRADE])
    async with venue_gateway(
        "binance", {"rest_url": emu.rest_url, ...}, consumer, journal_path=tmp_path / "j.db"
    ):
        await consumer.until(lambda: consumer.of(Trade))
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from os import PathLike
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from tradegw_core.clock import Clock
from tradegw_core.config.loader import load_config_mapping
from tradegw_core.plugin.registries import Registries

if TYPE_CHECKING:
    from tradegw_core.contracts import Consumer
    from tradegw_core.gateway import Gateway

__all__ = ["gateway_harness", "venue_gateway"]


@asynccontextmanager
async def gateway_harness(
    config: Mapping[str, Any] | None = None,
    *,
    clock: Clock | None = None,
    consumers: Mapping[str, Consumer] | None = None,
    **options: Any,
) -> AsyncIterator[Gateway]:
    """Start a ``tradegw_core.gateway.Gateway`` from ``config``; stop it on exit.

    ``consumers`` are test consumer instances registered under their names (plugin id
    ``"test"``) next to the enabled plugins' own; ``config`` must still list the ones to
    run in ``gateway.consumers``, as a user's would. ``options`` go to ``Gateway``
    (``metrics``, ``telemetry``, ``order_service``...).
    """
    from tradegw_core.gateway import Gateway

    registries = Registries()
    for name, consumer in (consumers or {}).items():
        registries.consumers.add(name, _always(consumer), plugin_id="test")
    loaded = load_config_mapping(config or {}, registries=registries)
    async with Gateway(loaded.settings, loaded.registries, clock=clock, **options) as gateway:
        yield gateway


def _always(consumer: Consumer) -> Any:
    """A consumer factory that ignores its settings and returns ``consumer``."""

    def factory(settings: Any) -> Consumer:
        return consumer

    return factory


@asynccontextmanager
async def venue_gateway(
    provider: str,
    provider_settings: Mapping[str, Any] | BaseModel,
    consumer: Consumer,
    *,
    journal_path: str | PathLike[str],
    consumer_name: str = "test-consumer",
    plugin: str | None = None,
    clock: Clock | None = None,
    **options: Any,
) -> AsyncIterator[Gateway]:
    """Run a Gateway with the plugin ``provider`` enabled and ``consumer`` subscribed to it.

    The settings are those of a minimal trading deployment: the one provider (required, so
    start-up waits for it and the consumer's ``on_start`` subscription is served at once)
    configured with ``provider_settings`` (a mapping, or the plugin's settings model such as an
    emulator's ``client_settings()``), the one consumer (registered as ``consumer_name``), metrics
    off, and the order journal at ``journal_path`` with no risk checks. ``plugin`` is the
    plugin to enable when it is not named like the provider. ``clock`` and ``options`` go
    to the Gateway as in :func:`gateway_harness`.
    """
    config = {
        "plugins": {"enabled": [plugin or provider]},
        "gateway": {
            "providers": [provider],
            "consumers": [consumer_name],
            "required_providers": [provider],
        },
        "metrics": {"enabled": False},
        "orders": {"journal_path": str(journal_path), "risk_checks": []},
        "providers": {
            provider: (
                provider_settings.model_dump()
                if isinstance(provider_settings, BaseModel)
                else dict(provider_settings)
            )
        },
    }
    async with gateway_harness(
        config, clock=clock, consumers={consumer_name: consumer}, **options
    ) as gateway:
        yield gateway
