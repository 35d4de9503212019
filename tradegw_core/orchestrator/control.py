"""Control-bus handling: Subscribe / Unsubscribe / MergedSubscribe / SetTradingMode -> Ack.

Every message is validated in full before anything changes; a bad one (unknown consumer,
provider, symbol, or a type the provider cannot stream) gets one error Ack listing every
problem, and the routing table, the version and the venue subscriptions stay as they were.

A stream is subscribed on the venue when its first consumer arrives and unsubscribed when
its last leaves. A provider that is not running yet (connecting at start-up, or restarting)
does not make a subscription fail: its streams are routed at once, the Ack is ``ok`` and
names it in ``pending`` with the reason, and :meth:`ControlService.resubscribe` subscribes
them on the venue as soon as it runs (dropping, with an error log naming the venue, any
symbol or type it turns out not to have). Only a provider stopped for good is an error.

Routes are added *before* the venue subscribe (so the first events after the venue's ack
are not lost) and removed *before* the venue unsubscribe (so delivery stops at once). A
venue subscribe that fails rolls the routes back and answers with the error.
Calls into one provider are serialized by a lock, shared with its resubscribe after a
restart.
"""

from __future__ import annotations

import logging
import math
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
    MergedUnsubscribe,
    SetTradingMode,
    Subscribe,
    Unsubscribe,
)
from tradegw_core.schema.events import EventType, StreamKey

__all__ = ["ControlService", "MergeHandler", "TradingModeHandler"]

_log = logging.getLogger("tradegw.control")

_NOT_SUBSCRIBABLE = {
    EventType.EXEC_REPORT: "ExecReports go to the consumer that placed the order, unasked",
    EventType.MERGED: "merged streams are requested with MergedSubscribe",
}


class MergeHandler(Protocol):
    """The merge side of the control bus (``orchestrator.merge_control.MergeControl``)."""

    async def handle(self, msg: MergedSubscribe | MergedUnsubscribe, deadline: float) -> Ack:
        """Apply a MergedSubscribe / MergedUnsubscribe; an error Ack changes nothing."""
        ...

    def provider_restarted(self, provider: str) -> None:
        """Discard the in-flight windows of every merge ``provider`` is part of."""
        ...


class TradingModeHandler(Protocol):
    """The trading switch as the control bus uses it (``orders.switch.TradingSwitch``)."""

    def apply(self, msg: SetTradingMode) -> Ack:
        """Switch trading on or off; the Ack says what happened."""
        ...


VenueCall = tuple[Provider, str, list[StreamKey]]
"""(provider, its name, the streams asked of it)."""


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
        self.merges: MergeHandler | None = None
        """Handles MergedSubscribe / MergedUnsubscribe (None: merges are not configured)."""
        self._call_timeout = call_timeout
        self._locks: dict[str, anyio.Lock] = {}

    def lock(self, provider: str) -> anyio.Lock:
        """The lock serializing (un)subscribe calls into ``provider``."""
        lock = self._locks.get(provider)
        if lock is None:
            lock = self._locks[provider] = anyio.Lock()
        return lock

    async def handle(self, msg: AnyControl, deadline: float = math.inf) -> Ack:
        """Validate and apply one control message; its client waits until ``deadline``.

        ``deadline`` is on the anyio clock (:func:`anyio.current_time`). Venue calls get at
        most the time left until then; a change that cannot complete in time is undone and
        answered with an error, so an error Ack always means nothing changed.
        """
        if isinstance(msg, Subscribe):
            return await self._subscribe(msg, deadline)
        if isinstance(msg, Unsubscribe):
            return await self._unsubscribe(msg, deadline)
        if isinstance(msg, MergedSubscribe | MergedUnsubscribe):
            if self.merges is None:
                return self._error(msg, "merged subscriptions are not configured in this gateway")
            return await self.merges.handle(msg, deadline)
        if self.trading is None:
            return self._error(msg, "trading is not configured in this gateway")
        return self.trading.apply(msg)

    def _budget(self, deadline: float) -> tuple[float, bool]:
        """The time a venue call may take, and whether the request's deadline sets it."""
        left = deadline - anyio.current_time()
        if left < self._call_timeout:
            return max(left, 0.0), True
        return self._call_timeout, False

    # -- validation ------------------------------------------------------------------

    def _problems(self, msg: Subscribe | Unsubscribe, *, need_running: bool) -> list[str]:
        return self.problems(
            msg.consumer_id, msg.providers, msg.symbols, msg.types, need_running=need_running
        )

    def problems(
        self,
        consumer_id: str,
        providers: Sequence[str],
        symbols: Sequence[str],
        types: Sequence[EventType],
        *,
        need_running: bool,
    ) -> list[str]:
        """What is wrong with asking for these streams for ``consumer_id`` (empty: nothing)."""
        problems: list[str] = []
        if not self._dispatcher.has_consumer(consumer_id):
            known = ", ".join(sorted(self._dispatcher.lanes)) or "none"
            problems.append(f"unknown consumer {consumer_id!r} (consumers: {known})")
        for type_ in types:
            if type_ in _NOT_SUBSCRIBABLE:
                problems.append(
                    f"type {type_.value!r} cannot be subscribed: {_NOT_SUBSCRIBABLE[type_]}"
                )
        for name in providers:
            sup = self._providers.get(name)
            if sup is None:
                known = ", ".join(sorted(self._providers)) or "none"
                problems.append(f"unknown provider {name!r} (providers: {known})")
                continue
            provider = sup.current
            if provider is None:
                if need_running and sup.gave_up:
                    problems.append(
                        f"provider {name!r} is stopped for good (last error: {sup.last_error}); "
                        "fix the cause and restart the gateway"
                    )
                continue
            instruments = provider.instruments()
            unknown = [s for s in symbols if s not in instruments]
            if unknown:
                problems.append(f"unknown symbol(s) {', '.join(unknown)} on provider {name!r}")
            supported = provider.supported_types()
            bad = [t.value for t in types if t not in supported and t not in _NOT_SUBSCRIBABLE]
            if bad:
                have = ", ".join(sorted(t.value for t in supported)) or "none"
                problems.append(
                    f"type(s) {', '.join(bad)} not supported by provider {name!r} "
                    f"(supported: {have})"
                )
        return problems

    # -- subscribe / unsubscribe -----------------------------------------------------

    async def _subscribe(self, msg: Subscribe, deadline: float) -> Ack:
        problems = self._problems(msg, need_running=True)
        if problems:
            return self._error(msg, "; ".join(problems))
        change = self._subs.subscribe(msg.consumer_id, expand_streams(msg))
        failure, done = await self.subscribe_venues(change.first, deadline)
        if failure:
            self._subs.unsubscribe(msg.consumer_id, change.changed)
            await self.undo_venues(done)
            return self._error(msg, failure)
        pending = self.pending(msg.providers)
        for name, why in pending.items():
            _log.info("subscription of %r to %r is pending: %s", msg.consumer_id, name, why)
        return Ack(
            request_id=msg.request_id,
            ok=True,
            routing_version=self._subs.routing_version,
            pending=pending,
        )

    def pending(self, providers: Sequence[str]) -> dict[str, str]:
        """The providers among ``providers`` that are not running now, and why."""
        return {
            name: (
                f"not running yet (last error: {sup.last_error or 'still connecting'}); "
                "served as soon as it runs"
            )
            for name in providers
            if (sup := self._providers[name]).current is None
        }

    async def subscribe_venues(
        self, keys: Sequence[StreamKey], deadline: float
    ) -> tuple[str, list[VenueCall]]:
        """Subscribe ``keys`` on their venues by ``deadline``.

        Returns ``("", done)`` on success, else the failure and what was (maybe) subscribed,
        for :meth:`undo_venues`. A provider that is not running is skipped: its streams
        stay routed and :meth:`resubscribe` subscribes them once it runs (pending).
        """
        done: list[VenueCall] = []
        failure = ""
        for name, group in _group(keys).items():
            provider = self._providers[name].current
            if provider is None:
                continue  # pending: resubscribe() subscribes it on the venue once it runs
            budget, by_deadline = self._budget(deadline)
            try:
                with anyio.fail_after(budget):
                    async with self.lock(name):
                        await provider.subscribe(to_specs(group))
            except TimeoutError:
                # The venue may have taken the subscription after all: undo it there too.
                done.append((provider, name, group))
                failure = (
                    f"provider {name!r} did not confirm the subscription within {budget:.3g} s"
                    + (" (the request's deadline)" if by_deadline else "")
                )
                break
            except Exception as exc:
                failure = f"provider {name!r} refused the subscription: {type(exc).__name__}: {exc}"
                break
            done.append((provider, name, group))
        if not failure and anyio.current_time() >= deadline:
            failure = "the request's deadline passed before the subscription completed"
        return failure, done

    async def undo_venues(self, done: Sequence[VenueCall]) -> None:
        """Unsubscribe what :meth:`subscribe_venues` did (its request failed)."""
        for prov, name, group in done:
            await self._venue_unsubscribe(prov, name, group)

    async def restore_venues(self, keys: Sequence[StreamKey]) -> None:
        """Subscribe ``keys`` again after an unsubscribe that had to be undone."""
        for name, group in _group(keys).items():
            provider = self._providers[name].current
            if provider is not None:
                await self._venue_resubscribe(provider, name, group)

    async def unsubscribe_venues(self, keys: Sequence[StreamKey]) -> None:
        """Unsubscribe ``keys`` on their venues (failures are reported, not raised)."""
        for name, group in _group(keys).items():
            provider = self._providers[name].current
            if provider is not None:
                await self._venue_unsubscribe(provider, name, group)

    async def _unsubscribe(self, msg: Unsubscribe, deadline: float) -> Ack:
        problems = self._problems(msg, need_running=False)
        if problems:
            return self._error(msg, "; ".join(problems))
        change = self._subs.unsubscribe(msg.consumer_id, expand_streams(msg))
        touched: list[tuple[Provider, str, list[StreamKey]]] = []
        late = False
        for name, keys in _group(change.last).items():
            provider = self._providers[name].current
            if provider is None:
                continue
            budget, by_deadline = self._budget(deadline)
            touched.append((provider, name, keys))
            error = await self._venue_unsubscribe(provider, name, keys, budget)
            if by_deadline and isinstance(error, TimeoutError):
                late = True
                break
        if late or anyio.current_time() >= deadline:
            # The client no longer waits: restore what it had, so its error Ack holds.
            self._subs.subscribe(msg.consumer_id, change.changed)
            for provider, name, keys in touched:
                await self._venue_resubscribe(provider, name, keys)
            return self._error(
                msg, "the request's deadline passed before the venue confirmed the unsubscribe"
            )
        return Ack(request_id=msg.request_id, ok=True, routing_version=self._subs.routing_version)

    async def _venue_resubscribe(
        self, provider: Provider, name: str, keys: list[StreamKey]
    ) -> None:
        try:
            with anyio.fail_after(self._call_timeout):
                async with self.lock(name):
                    await provider.subscribe(to_specs(keys))
        except Exception as exc:
            self._telemetry.emit(
                "provider.subscribe_failed", provider=name, error=f"{type(exc).__name__}: {exc}"
            )
            _log.warning("provider %r failed to restore a subscription: %s", name, exc)

    async def _venue_unsubscribe(
        self, provider: Provider, name: str, keys: list[StreamKey], budget: float | None = None
    ) -> Exception | None:
        # Delivery has stopped already (routes removed); a venue that fails to unsubscribe
        # only costs bandwidth, so it is reported (and returned), not turned into an error Ack.
        try:
            with anyio.fail_after(self._call_timeout if budget is None else budget):
                async with self.lock(name):
                    await provider.unsubscribe(to_specs(keys))
        except Exception as exc:
            self._telemetry.emit(
                "provider.unsubscribe_failed", provider=name, error=f"{type(exc).__name__}: {exc}"
            )
            _log.warning("provider %r failed to unsubscribe: %s", name, exc)
            return exc
        return None

    async def resubscribe(self, name: str, provider: Provider, restarted: bool) -> None:
        """Once a provider runs (first start or restart): subscribe what consumers want.

        After a restart the ordering state of its streams is reset (the new instance's
        seqs and books start over; each book is resynced and its consumers get a fresh
        BookSnapshot), and the open windows of the merges it is part of are discarded
        (nothing is replayed). Streams whose symbol or type the provider does not have are
        dropped from the routing table, with an error log naming the provider and the
        consumers. What merges hold is subscribed too.
        """
        if restarted:
            self._dispatcher.reset_ordering(name)
            if self.merges is not None:
                self.merges.provider_restarted(name)
        with anyio.fail_after(self._call_timeout):
            async with self.lock(name):
                keys = self._valid(name, provider, self._subs.active(name))
                if keys:
                    await provider.subscribe(to_specs(keys))
        if restarted:
            self._telemetry.emit("provider.resubscribed", provider=name, streams=len(keys))

    def _valid(self, name: str, provider: Provider, keys: list[StreamKey]) -> list[StreamKey]:
        instruments = provider.instruments()
        supported = provider.supported_types()
        good: list[StreamKey] = []
        for key in keys:
            if key.symbol in instruments and key.type in supported:
                good.append(key)
                continue
            why = "unknown symbol" if key.symbol not in instruments else "unsupported type"
            owners = self._subs.consumers(key)
            for consumer in owners:
                self._subs.unsubscribe(consumer, [key])
            self._telemetry.emit(
                "subscription.dropped", provider=name, symbol=key.symbol, reason=why
            )
            _log.error(
                "provider %r: dropped the pending subscription of %s to %s %s: %s",
                name,
                ", ".join(repr(c) for c in owners),
                key.symbol,
                key.type.value,
                why,
            )
        return good

    @staticmethod
    def _error(msg: AnyControl, text: str) -> Ack:
        return Ack(request_id=msg.request_id, ok=False, error=text)
