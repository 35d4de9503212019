"""Control-bus handling: Subscribe / Unsubscribe / MergedSubscribe / SetTradingMode -> Ack.

Every message is validated in full before anything changes; a bad one (unknown consumer,
provider, symbol, or a type the provider cannot stream) gets one error Ack listing every
problem, and the routing table, the version and the venue subscriptions stay as they were.

A stream is subscribed on the venue when its first consumer arrives and unsubscribed when
its last leaves. Routes are added *before* the venue subscribe (so the first events after
the venue's ack are not lost) and removed *before* the venue unsubscribe (so delivery stops
at once). A venue subscribe that fails rolls the routes back and answers with the error.
Calls into one provider are serialized by a lock, shared with its resubscribe after a
restart.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Protocol

import anyio

from tradegw_core.bus.control import AnyControl
from tradegw_core.consumer.subscriptions import SubscriptionManager, expand_streams, to_specs
from tradegw_core.contracts import Provider, Telemetry
from tradegw_core.dispatcher.dispatcher import Dispatcher
from tradegw_core.orchestrator.supervisor import Supervisor
from tradegw_core.schema.control import (
    Ack,
    MergedSubscribe,
    SetTradingMode,
    Subscribe,
    Unsubscribe,
)
from tradegw_core.schema.events import EventType, StreamKey

__all__ = ["ControlService", "TradingModeHandler"]

_log = logging.getLogger("tradegw.control")

_NOT_SUBSCRIBABLE = {
    EventType.EXEC_REPORT: "ExecReports go to the consumer that placed the order, unasked",
    EventType.MERGED: "merged streams are requested with MergedSubscribe",
}


class TradingModeHandler(Protocol):
    """The trading switch as the control bus uses it (``orders.switch.TradingSwitch``)."""

    def apply(self, msg: SetTradingMode) -> Ack:
        """Switch trading on or off; the Ack says what happened."""
        ...


def _group(keys: Sequence[StreamKey]) -> dict[str, list[StreamKey]]:
    groups: dict[str, list[StreamKey]] = defaultdict(list)
    for key in keys:
        groups[key.provider].append(key)
    return groups


class ControlService:
    """The gateway's control handler (served by the control task, one message at a time)."""

    def __init__(
        self,
        *,
        dispatcher: Dispatcher,
        subscriptions: SubscriptionManager,
        providers: Mapping[str, Supervisor[Provider]],
        telemetry: Telemetry,
        trading: TradingModeHandler | None = None,
        call_timeout: float = 10.0,
    ) -> None:
        self._dispatcher = dispatcher
        self._subs = subscriptions
        self._providers = providers
        self._telemetry = telemetry
        self.trading = trading
        """Handles SetTradingMode (None: trading is not configured)."""
        self._call_timeout = call_timeout
        self._locks: dict[str, anyio.Lock] = {}

    def lock(self, provider: str) -> anyio.Lock:
        """The lock serializing (un)subscribe calls into ``provider``."""
        lock = self._locks.get(provider)
        if lock is None:
            lock = self._locks[provider] = anyio.Lock()
        return lock

    async def handle(self, msg: AnyControl) -> Ack:
        """Validate and apply one control message."""
        if isinstance(msg, Subscribe):
            return await self._subscribe(msg)
        if isinstance(msg, Unsubscribe):
            return await self._unsubscribe(msg)
        if isinstance(msg, MergedSubscribe):
            return self._error(msg, "merged subscriptions are not available in this version")
        if self.trading is None:
            return self._error(msg, "trading is not configured in this gateway")
        return self.trading.apply(msg)

    # -- validation ------------------------------------------------------------------

    def _problems(self, msg: Subscribe | Unsubscribe, *, need_running: bool) -> list[str]:
        problems: list[str] = []
        if not self._dispatcher.has_consumer(msg.consumer_id):
            known = ", ".join(sorted(self._dispatcher.lanes)) or "none"
            problems.append(f"unknown consumer {msg.consumer_id!r} (consumers: {known})")
        for type_ in msg.types:
            if type_ in _NOT_SUBSCRIBABLE:
                problems.append(
                    f"type {type_.value!r} cannot be subscribed: {_NOT_SUBSCRIBABLE[type_]}"
                )
        for name in msg.providers:
            sup = self._providers.get(name)
            if sup is None:
                known = ", ".join(sorted(self._providers)) or "none"
                problems.append(f"unknown provider {name!r} (providers: {known})")
                continue
            provider = sup.current
            if provider is None:
                if need_running:
                    problems.append(
                        f"provider {name!r} is not running (last error: "
                        f"{sup.last_error or 'still starting'}); try again shortly"
                    )
                continue
            instruments = provider.instruments()
            unknown = [s for s in msg.symbols if s not in instruments]
            if unknown:
                problems.append(f"unknown symbol(s) {', '.join(unknown)} on provider {name!r}")
            supported = provider.supported_types()
            bad = [t.value for t in msg.types if t not in supported and t not in _NOT_SUBSCRIBABLE]
            if bad:
                have = ", ".join(sorted(t.value for t in supported)) or "none"
                problems.append(
                    f"type(s) {', '.join(bad)} not supported by provider {name!r} "
                    f"(supported: {have})"
                )
        return problems

    # -- subscribe / unsubscribe -----------------------------------------------------

    async def _subscribe(self, msg: Subscribe) -> Ack:
        problems = self._problems(msg, need_running=True)
        if problems:
            return self._error(msg, "; ".join(problems))
        change = self._subs.subscribe(msg.consumer_id, expand_streams(msg))
        done: list[tuple[Provider, list[StreamKey]]] = []
        for name, keys in _group(change.first).items():
            provider = self._providers[name].current
            try:
                if provider is None:
                    raise RuntimeError(f"provider {name!r} stopped while subscribing")
                async with self.lock(name):
                    with anyio.fail_after(self._call_timeout):
                        await provider.subscribe(to_specs(keys))
                done.append((provider, keys))
            except Exception as exc:
                self._subs.unsubscribe(msg.consumer_id, change.changed)
                for prov, prev in done:
                    await self._venue_unsubscribe(prov, prev[0].provider, prev)
                return self._error(
                    msg, f"provider {name!r} refused the subscription: {type(exc).__name__}: {exc}"
                )
        return Ack(request_id=msg.request_id, ok=True, routing_version=self._subs.routing_version)

    async def _unsubscribe(self, msg: Unsubscribe) -> Ack:
        problems = self._problems(msg, need_running=False)
        if problems:
            return self._error(msg, "; ".join(problems))
        change = self._subs.unsubscribe(msg.consumer_id, expand_streams(msg))
        for name, keys in _group(change.last).items():
            provider = self._providers[name].current
            if provider is not None:
                await self._venue_unsubscribe(provider, name, keys)
        return Ack(request_id=msg.request_id, ok=True, routing_version=self._subs.routing_version)

    async def _venue_unsubscribe(
        self, provider: Provider, name: str, keys: list[StreamKey]
    ) -> None:
        # Delivery has stopped already (routes removed); a venue that fails to unsubscribe
        # only costs bandwidth, so it is reported, not turned into an error Ack.
        try:
            async with self.lock(name):
                with anyio.fail_after(self._call_timeout):
                    await provider.unsubscribe(to_specs(keys))
        except Exception as exc:
            self._telemetry.emit(
                "provider.unsubscribe_failed", provider=name, error=f"{type(exc).__name__}: {exc}"
            )
            _log.warning("provider %r failed to unsubscribe: %s", name, exc)

    async def resubscribe(self, name: str, provider: Provider, restarted: bool) -> None:
        """After a provider (re)start: reset its ordering, subscribe what consumers want."""
        if not restarted:
            return
        self._dispatcher.reset_ordering(name)
        keys = self._subs.active(name)
        if keys:
            async with self.lock(name):
                with anyio.fail_after(self._call_timeout):
                    await provider.subscribe(to_specs(keys))

    @staticmethod
    def _error(msg: AnyControl, text: str) -> Ack:
        return Ack(request_id=msg.request_id, ok=False, error=text)
