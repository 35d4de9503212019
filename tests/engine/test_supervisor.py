"""The Supervisor: jittered, capped restart delays, reset once stable, no retry of lost causes."""

from __future__ import annotations

import logging
import random
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus

from tradegw_core.clock import FakeClock
from tradegw_core.errors import (
    AuthenticationError,
    ConfigError,
    ProviderFailedError,
    VenueConnectionError,
)
from tradegw_core.net.backoff import Backoff
from tradegw_core.orchestrator.supervisor import Supervisor, is_final

BASE, CAP = 0.001, 0.004


class Telemetry:
    """Records every emitted event; wakes a waiter on each."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.changed = anyio.Event()

    def emit(self, name: str, /, **labels: Any) -> None:
        self.events.append((name, labels))
        self.changed.set()
        self.changed = anyio.Event()

    def failed(self) -> list[dict[str, Any]]:
        return [labels for name, labels in self.events if name == "provider.failed"]

    async def wait_failed(self, count: int) -> None:
        while len(self.failed()) < count:
            await self.changed.wait()


class Flaky:
    """A plugin object whose run starts, then fails with what the test hands it."""

    def __init__(
        self, failures: list[BaseException], clock: FakeClock, hold: float, holds: Any = ()
    ) -> None:
        self.failures = failures
        self.clock = clock
        self.hold = hold
        self.holds = list(holds)
        self.started = 0

    def make(self) -> Flaky:
        return self

    async def on_started(self, obj: Flaky, restarted: bool) -> None:
        # how long this instance "ran" on the gateway clock
        self.clock.advance(self.holds.pop(0) if self.holds else self.hold)

    async def run(self, obj: Flaky, task_status: TaskStatus[None]) -> None:
        task_status.started()
        self.started += 1
        raise self.failures.pop(0) if self.failures else RuntimeError("lost")


def _supervisor(
    flaky: Flaky, telemetry: Telemetry, clock: FakeClock, seed: int, **kw: Any
) -> Supervisor[Flaky]:
    return Supervisor(
        "fake",
        flaky.make,
        flaky.run,
        telemetry=telemetry,
        clock=clock,
        backoff=Backoff(base_s=BASE, cap_s=CAP, rng=random.Random(seed)),
        stable_after=60.0,
        on_started=flaky.on_started,
        **kw,
    )


@pytest.mark.anyio
async def test_restart_delays_follow_the_jittered_capped_sequence() -> None:
    clock, telemetry = FakeClock(), Telemetry()
    flaky = Flaky([], clock, hold=1.0)
    sup = _supervisor(flaky, telemetry, clock, seed=11)
    twin = Backoff(base_s=BASE, cap_s=CAP, rng=random.Random(11))
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(5):
            await tg.start(sup.run)
            await telemetry.wait_failed(6)
        tg.cancel_scope.cancel()
    failed = telemetry.failed()[:6]
    delays = [f["restart_in_s"] for f in failed]
    assert delays == [twin.next_delay(n) for n in range(6)]  # the seeded jitter, in order
    assert [f["attempt"] for f in failed] == [1, 2, 3, 4, 5, 6]
    for n, delay in enumerate(delays):
        assert 0 <= delay <= min(CAP, BASE * 2**n)  # capped exponential ceiling
    assert len(set(delays)) > 1  # jittered, not lock-step
    assert all(f["final"] is False for f in failed)
    assert sup.restarts >= 6
    assert sup.last_error == "RuntimeError: lost"


@pytest.mark.anyio
async def test_the_backoff_starts_over_after_a_stable_run() -> None:
    clock, telemetry = FakeClock(), Telemetry()
    # the 4th instance runs for stable_after (60 s) before it fails; the others for 1 s
    flaky = Flaky([], clock, hold=1.0, holds=[1.0, 1.0, 1.0, 60.0, 1.0, 1.0])
    sup = _supervisor(flaky, telemetry, clock, seed=3)
    twin = Backoff(base_s=BASE, cap_s=CAP, rng=random.Random(3))
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(5):
            await tg.start(sup.run)
            await telemetry.wait_failed(6)
        tg.cancel_scope.cancel()
    failed = telemetry.failed()[:6]
    assert [f["attempt"] for f in failed] == [1, 2, 3, 1, 2, 3]
    expected = [twin.next_delay(n) for n in (0, 1, 2, 0, 1, 2)]
    assert [f["restart_in_s"] for f in failed] == expected


@pytest.mark.anyio
@pytest.mark.parametrize(
    "error",
    [ConfigError("no api key"), AuthenticationError("bad signature", venue="fake")],
)
async def test_a_failure_retrying_cannot_fix_is_reported_once_and_not_retried(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    clock, telemetry = FakeClock(), Telemetry()
    flaky = Flaky([error], clock, hold=0.0)
    sup = _supervisor(flaky, telemetry, clock, seed=1)
    with anyio.fail_after(5), caplog.at_level(logging.ERROR, "tradegw.orchestrator"):
        await sup.run()  # returns: the provider stays stopped
    assert flaky.started == 1
    assert len(telemetry.failed()) == 1
    assert telemetry.failed()[0]["final"] is True
    assert sup.gave_up
    assert sup.current is None
    assert sup.restarts == 0
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert "stays stopped" in caplog.records[0].getMessage()


@pytest.mark.anyio
async def test_a_retryable_venue_error_is_retried_and_a_required_one_stops() -> None:
    clock, telemetry = FakeClock(), Telemetry()
    flaky = Flaky([VenueConnectionError("reset", venue="fake")], clock, hold=0.0)
    sup = _supervisor(flaky, telemetry, clock, seed=1)
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(5):
            await tg.start(sup.run)
            await telemetry.wait_failed(2)
        tg.cancel_scope.cancel()
    assert flaky.started >= 2
    assert not sup.gave_up

    required = _supervisor(
        Flaky([AuthenticationError("bad key")], clock, 0.0), telemetry, clock, 1, required=True
    )
    with anyio.fail_after(5), pytest.raises(ProviderFailedError, match="required provider"):
        await required.run()
    assert telemetry.failed()[-1]["final"] is True


def test_is_final_tells_lost_causes_from_transient_failures() -> None:
    assert is_final(ConfigError("x"))
    assert is_final(AuthenticationError("x"))
    assert not is_final(VenueConnectionError("x"))
    assert not is_final(RuntimeError("x"))


@pytest.mark.anyio
@pytest.mark.parametrize("error", [TypeError("bad arg"), AttributeError("no x"), KeyError("k")])
async def test_a_programming_error_stops_it_with_a_traceback_and_no_retry_loop(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    clock, telemetry = FakeClock(), Telemetry()
    flaky = Flaky([error], clock, hold=0.0)
    sup = _supervisor(flaky, telemetry, clock, seed=1)
    if isinstance(error, KeyError):  # a lookup on venue data: retried like any failure
        async with anyio.create_task_group() as tg:
            with anyio.fail_after(5):
                await tg.start(sup.run)
                await telemetry.wait_failed(2)
            tg.cancel_scope.cancel()
        assert not sup.gave_up
        return
    with anyio.fail_after(5), caplog.at_level(logging.ERROR, "tradegw.orchestrator"):
        await sup.run()  # returns: it stays stopped
    assert flaky.started == 1
    assert sup.gave_up
    assert telemetry.failed()[0]["final"] is True
    (record,) = caplog.records
    assert "stays stopped" in record.getMessage()
    assert record.exc_info is not None  # the traceback
    assert record.exc_info[1] is error


@pytest.mark.anyio
async def test_a_factory_that_raises_a_programming_error_is_not_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, telemetry = FakeClock(), Telemetry()
    built = 0

    def broken() -> Flaky:
        nonlocal built
        built += 1
        raise TypeError("__init__() got an unexpected keyword argument 'x'")

    flaky = Flaky([], clock, hold=0.0)
    sup = _supervisor(flaky, telemetry, clock, seed=1)
    sup._make = broken
    with anyio.fail_after(5), caplog.at_level(logging.ERROR, "tradegw.orchestrator"):
        await sup.run()
    assert built == 1
    assert sup.gave_up
    assert "TypeError" in sup.last_error
    assert caplog.records[-1].exc_info is not None


@pytest.mark.anyio
async def test_restart_stops_the_instance_and_starts_a_fresh_one_at_once() -> None:
    clock, telemetry = FakeClock(), Telemetry()
    made: list[object] = []

    def make() -> object:
        made.append(object())
        return made[-1]

    async def run(obj: object, task_status: TaskStatus[None]) -> None:
        task_status.started()
        await anyio.sleep_forever()

    sup: Supervisor[object] = Supervisor("fake", make, run, telemetry=telemetry, clock=clock)
    assert not sup.restart("nothing runs yet")
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(5):
            await tg.start(sup.run)
            first = await sup.wait_running()
            assert sup.restart("operator asked")
            assert sup.current is None  # nothing is handed to the stopping instance
            second = await sup.wait_running()
        tg.cancel_scope.cancel()
    assert first is not second
    assert sup.restarts == 1
    assert [name for name, _ in telemetry.events] == ["provider.restarted"]
    assert sup.last_error == "RestartRequested: operator asked"
