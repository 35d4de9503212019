"""MergedSubscribe / MergedUnsubscribe on the control bus (design section 7).

A MergedSubscribe is validated in full before anything changes (consumer, at least two
distinct providers, each known and running, the symbol known and the type streamed by
each, a mergeable type, ``max_count`` no smaller than the number of providers, and, when the
merge of that (symbol, type) already runs, the same providers, window and count); a bad one
gets one error Ack listing every problem.

The first consumer of a merge starts it: the merge stage gets its windows (before the
venues subscribe, so the first fragments are not lost), the source streams are *held* in
the subscription manager (the venue subscribes those no consumer had yet) and the consumer
is routed the merge's MergedEvent stream. Later consumers of the same merge only get the
route: each merge is computed once. When the last consumer leaves, the merge stops (its
open windows are discarded) and the venues unsubscribe what nobody else wants. Either way,
a change that cannot complete by the request's deadline is undone, so an error Ack always
means nothing changed.
"""

from __future__ import annotations

from typing import Any

import anyio

from tradegw_core.clock import Clock
from tradegw_core.config.models import MergeSettings
from tradegw_core.consumer.subscriptions import SubscriptionManager
from tradegw_core.contracts import Telemetry
from tradegw_core.dispatcher.dispatcher import Dispatcher
from tradegw_core.orchestrator.control import ControlService
from tradegw_core.orchestrator.merge import MergeStage, merged_stream
from tradegw_core.orchestrator.orchestrator import Orchestrator
from tradegw_core.orchestrator.windows import MERGEABLE_TYPES, MergeKey, MergeSpec
from tradegw_core.schema.control import Ack, MergedSubscribe, MergedUnsubscribe
from tradegw_core.schema.events import StreamKey

__all__ = ["MergeControl", "install_merges"]

_MERGEABLE = ", ".join(t.value for t in MERGEABLE_TYPES)


def _holder(key: MergeKey) -> str:
    return f"merge {key.label}"


def _sources(spec: MergeSpec) -> list[StreamKey]:
    return [StreamKey(p, spec.symbol, spec.type) for p in spec.providers]


class MergeControl:
    """Applies merged (un)subscriptions to the merge stage, routes and venue subscriptions."""

    def __init__(
        self,
        *,
        stage: MergeStage,
        orchestrator: Orchestrator,
        dispatcher: Dispatcher,
        subscriptions: SubscriptionManager,
        control: ControlService,
    ) -> None:
        self._stage = stage
        self._orchestrator = orchestrator
        self._dispatcher = dispatcher
        self._subs = subscriptions
        self._control = control

    async def handle(self, msg: MergedSubscribe | MergedUnsubscribe, deadline: float) -> Ack:
        """Apply one merged (un)subscription; an error Ack changes nothing."""
        if isinstance(msg, MergedSubscribe):
            return await self._subscribe(msg, deadline)
        return await self._unsubscribe(msg, deadline)

    def provider_restarted(self, provider: str) -> None:
        """Discard the in-flight windows of every merge ``provider`` is part of.

        A restarted provider resyncs its streams from scratch; windows holding what it sent
        before are dropped rather than completed with what it sends after (nothing is
        replayed). The merges keep running.
        """
        self._stage.reset(provider)

    def _sync(self) -> None:
        # Events pay for the merge stage only while a merge runs.
        self._orchestrator.merge = self._stage if self._stage.merges else None

    def _problems(self, msg: MergedSubscribe) -> tuple[list[str], MergeSpec]:
        providers = tuple(dict.fromkeys(msg.providers))
        spec = MergeSpec(msg.symbol, msg.type, providers, msg.window_ms, msg.max_count)
        problems: list[str] = []
        if msg.type not in MERGEABLE_TYPES:
            problems.append(f"type {msg.type.value!r} cannot be merged (mergeable: {_MERGEABLE})")
        if len(providers) < 2:
            problems.append(
                f"a merge needs at least two distinct providers (got {', '.join(providers)})"
            )
        if msg.max_count < len(providers):
            problems.append(
                f"max_count {msg.max_count} is below the number of providers "
                f"({len(providers)}): no window could ever hold all of them"
            )
        types = (msg.type,) if msg.type in MERGEABLE_TYPES else ()
        problems.extend(
            self._control.problems(
                msg.consumer_id, providers, (msg.symbol,), types, need_running=True
            )
        )
        running = self._stage.get(spec.key)
        if running is not None:
            same = (
                set(running.spec.providers) == set(providers)
                and running.spec.window_ms == msg.window_ms
                and running.spec.max_count == msg.max_count
            )
            if not same:
                problems.append(
                    f"merge {spec.key.label} already runs with {running.describe()}; ask for "
                    "the same, or for it again once its consumers have left"
                )
        elif len(self._stage.merges) >= self._stage.max_merges:
            problems.append(
                f"{self._stage.max_merges} merges run already (the most allowed: "
                "[merge] max_merges)"
            )
        return problems, spec

    async def _subscribe(self, msg: MergedSubscribe, deadline: float) -> Ack:
        problems, spec = self._problems(msg)
        if problems:
            return _error(msg, "; ".join(problems))
        stream = merged_stream(spec.key)
        if self._stage.get(spec.key) is None:
            self._stage.add(spec)
            self._sync()
            sources = _sources(spec)
            first = self._subs.hold(_holder(spec.key), sources)
            failure, done = await self._control.subscribe_venues(first, deadline)
            if failure:
                self._subs.release(_holder(spec.key), sources)
                self._stage.remove(spec.key)
                self._sync()
                await self._control.undo_venues(done)
                return _error(msg, failure)
        self._subs.subscribe(msg.consumer_id, [stream])
        return Ack(request_id=msg.request_id, ok=True, routing_version=self._subs.routing_version)

    async def _unsubscribe(self, msg: MergedUnsubscribe, deadline: float) -> Ack:
        problems: list[str] = []
        if not self._dispatcher.has_consumer(msg.consumer_id):
            known = ", ".join(sorted(self._dispatcher.lanes)) or "none"
            problems.append(f"unknown consumer {msg.consumer_id!r} (consumers: {known})")
        if msg.type not in MERGEABLE_TYPES:
            problems.append(f"type {msg.type.value!r} cannot be merged (mergeable: {_MERGEABLE})")
        if problems:
            return _error(msg, "; ".join(problems))
        key = MergeKey(msg.symbol, msg.type)
        stream = merged_stream(key)
        change = self._subs.unsubscribe(msg.consumer_id, [stream])
        running = self._stage.get(key)
        if running is None or self._dispatcher.routing.consumers(stream):
            return Ack(
                request_id=msg.request_id, ok=True, routing_version=self._subs.routing_version
            )
        spec = running.spec
        self._stage.remove(key)
        self._sync()
        sources = _sources(spec)
        last = self._subs.release(_holder(key), sources)
        with anyio.move_on_after(max(deadline - anyio.current_time(), 0.0)):
            await self._control.unsubscribe_venues(last)
        if anyio.current_time() >= deadline:
            # The client no longer waits: restore the merge, so its error Ack holds.
            self._stage.add(spec)
            self._sync()
            self._subs.hold(_holder(key), sources)
            await self._control.restore_venues(last)
            self._subs.subscribe(msg.consumer_id, change.changed)
            return _error(
                msg, "the request's deadline passed before the venues confirmed the unsubscribe"
            )
        return Ack(request_id=msg.request_id, ok=True, routing_version=self._subs.routing_version)


def _error(msg: MergedSubscribe | MergedUnsubscribe, text: str) -> Ack:
    return Ack(request_id=msg.request_id, ok=False, error=text)


def install_merges(
    settings: MergeSettings | None,
    *,
    control: ControlService,
    orchestrator: Orchestrator,
    subscriptions: SubscriptionManager,
    clock: Clock,
    telemetry: Telemetry,
    metrics: Any = None,
) -> MergeStage:
    """Build a gateway's merge stage and let ``control`` answer merged subscriptions."""
    merge = settings if settings is not None else MergeSettings()
    dispatcher = orchestrator.dispatcher
    stage = MergeStage(
        dispatcher.dispatch,
        clock=clock,
        telemetry=telemetry,
        metrics=metrics,
        routing_version=lambda: dispatcher.routing_version,
        allowed_skew_ms=merge.allowed_skew_ms,
        max_open_windows=merge.max_open_windows,
        max_merges=merge.max_merges,
    )
    control.merges = MergeControl(
        stage=stage,
        orchestrator=orchestrator,
        dispatcher=dispatcher,
        subscriptions=subscriptions,
        control=control,
    )
    return stage
