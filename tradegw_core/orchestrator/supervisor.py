"""Supervision of long-running plugin objects (providers, order adapters).

A :class:`Supervisor` builds its object from a factory and starts it with
``TaskGroup.start`` (readiness = the object's ``task_status.started()``). When the object
fails (raises, or returns although it should run until cancelled) a *required* one stops the
gateway with :class:`ProviderFailedError`; any other is reported (telemetry
``provider.failed``, a log line) and rebuilt after a capped exponential backoff with jitter
(:class:`tradegw_core.net.backoff.Backoff`). The backoff starts over once an instance has
run for ``stable_after`` seconds.

A failure that cannot succeed on retry (:class:`ConfigError`, or a :class:`VenueError` whose
``retryable`` is False, such as :class:`AuthenticationError`) is not retried: it is reported
once (``provider.failed`` with ``final=True``, an error log line) and that object stays
stopped (a required one stops the gateway, as any failure of it does). A failure of a
``not_configured`` type (an order adapter without trading keys raising ConfigError) means the
object is simply not set up: it is reported once (``final=True, disabled=True``, logged with
``disabled_message``) and stays stopped, and never stops the gateway, even when required.

A programming error (:data:`PROGRAMMING_ERRORS`: ``TypeError``, ``AttributeError``, ...
raised by the object, or anything but a venue/network error raised by its factory) is
final too: logged once with its traceback, never retried; a broken plugin must not spin in
a restart loop while the rest of the gateway runs on.

:meth:`Supervisor.restart` stops the running instance and starts a fresh one at once
(operators, tests); :attr:`Supervisor.running` is set while an instance runs and
:meth:`Supervisor.wait_running` waits for one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import anyio
from anyio.abc import TaskStatus

from tradegw_core.clock import Clock, SystemClock
from tradegw_core.contracts import Telemetry
from tradegw_core.errors import ConfigError, ProviderFailedError, VenueError
from tradegw_core.net.backoff import Backoff

__all__ = ["PROGRAMMING_ERRORS", "Backoff", "RestartRequested", "Supervisor", "is_final"]

T = TypeVar("T")

_log = logging.getLogger("tradegw.orchestrator")


def _root_cause(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


PROGRAMMING_ERRORS: tuple[type[BaseException], ...] = (
    TypeError,
    AttributeError,
    NameError,
    AssertionError,
    ImportError,
    NotImplementedError,
    SyntaxError,
    RecursionError,
)
"""Exceptions that mean the plugin's code is wrong: restarting it cannot help."""


class RestartRequested(Exception):
    """Why an instance was stopped by :meth:`Supervisor.restart`."""


def is_final(exc: BaseException) -> bool:
    """True when retrying cannot help: a config error, a non-retryable venue error, or a
    programming error (:data:`PROGRAMMING_ERRORS`)."""
    if isinstance(exc, (ConfigError, *PROGRAMMING_ERRORS)):
        return True
    return isinstance(exc, VenueError) and not exc.retryable


def _factory_failure_final(exc: BaseException) -> bool:
    # A factory builds objects and does no I/O: only venue/network errors may pass by retrying.
    if isinstance(exc, VenueError):
        return not exc.retryable
    return not isinstance(exc, OSError | TimeoutError)


class Supervisor(Generic[T]):
    """Keep one plugin object running; see the module docstring."""

    def __init__(
        self,
        name: str,
        make: Callable[[], T],
        run: Callable[[T, TaskStatus[None]], Awaitable[None]],
        *,
        required: bool = False,
        telemetry: Telemetry,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        stable_after: float = 60.0,
        on_started: Callable[[T, bool], Awaitable[None]] | None = None,
        on_make: Callable[[], None] | None = None,
        kind: str = "provider",
        not_configured: tuple[type[BaseException], ...] = (),
        disabled_message: str = "{kind} {name!r} disabled: {reason}",
    ) -> None:
        self.name = name
        self.kind = kind
        self.required = required
        self.current: T | None = None
        """The running instance (None while starting or waiting to restart)."""
        self.restarts = 0
        self.last_error = ""
        self.gave_up = False
        """True once a failure that retrying cannot fix stopped it for good."""
        self.running = anyio.Event()
        """Set while an instance runs (replaced by a fresh event when it stops)."""
        self._on_make = on_make
        self._changed = anyio.Event()
        self._scope: anyio.CancelScope | None = None
        self._restart_reason: str | None = None
        self._make = make
        self._run = run
        self._telemetry = telemetry
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._backoff = backoff if backoff is not None else Backoff()
        self._stable_after_ns = int(stable_after * 1_000_000_000)
        self._on_started = on_started
        self._not_configured = not_configured
        self._disabled_message = disabled_message

    async def _run_one(self, obj: T, *, task_status: TaskStatus[None]) -> None:
        await self._run(obj, task_status)

    def restart(self, reason: str) -> bool:
        """Stop the running instance and start a fresh one at once; False when none runs."""
        if self._scope is None or self.current is None:
            return False
        self._restart_reason = reason
        self._scope.cancel()
        self.current = None  # stopping: nothing may be handed to it any more
        self.running = anyio.Event()
        self._note_change()
        return True

    async def wait_running(self) -> T:
        """The running instance, once there is one."""
        while self.current is None:
            await self.running.wait()
        return self.current

    async def until(self, pred: Callable[[Supervisor[T]], bool]) -> None:
        """Wait until ``pred(self)`` holds (re-checked whenever its state changes)."""
        while not pred(self):
            await self._changed.wait()

    def _note_change(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _build(self) -> T:
        if self._on_make is not None:
            self._on_make()
        return self._make()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run, restart on failure, until cancelled (or raise for a required one).

        ``task_status.started()`` is called after the first start, successful or not, so
        one broken optional provider never holds up the gateway. Returns (after reporting)
        when a failure is final (:func:`is_final`).

        The backoff is asked for ``next_delay(attempt)`` with this supervisor's own attempt
        count, so one Backoff object can be shared by many supervisors.
        """
        attempt = 0
        reported_started = False
        restarted = False
        while True:
            started_at: int | None = None
            factory_final = False
            self._restart_reason = None
            building = True
            try:
                obj = self._build()
                building = False
                with anyio.CancelScope() as scope:
                    self._scope = scope
                    async with anyio.create_task_group() as tg:
                        await tg.start(self._run_one, obj)
                        started_at = self._clock.monotonic_ns()
                        self.current = obj
                        self.running.set()
                        self._note_change()
                        if self._on_started is not None:
                            await self._on_started(obj, restarted)
                        if not reported_started:
                            reported_started = True
                            task_status.started()
                failure: BaseException = RuntimeError("run() returned; it must run until cancelled")
                if self._restart_reason is not None:
                    failure = RestartRequested(self._restart_reason)
            except Exception as exc:
                failure = _root_cause(exc)
                factory_final = building and _factory_failure_final(failure)
            finally:
                self._scope = None
                if self.current is not None:
                    self.current = None
                    self.running = anyio.Event()
                    self._note_change()
            self.last_error = f"{type(failure).__name__}: {failure}"
            self._note_change()
            if isinstance(failure, RestartRequested):
                self.restarts += 1
                restarted = True
                self._note_change()
                self._telemetry.emit(
                    f"{self.kind}.restarted", provider=self.name, reason=str(failure)
                )
                _log.warning("%s %r restarted: %s", self.kind, self.name, failure)
                if not reported_started:
                    reported_started = True
                    task_status.started()
                continue
            if self._not_configured and isinstance(failure, self._not_configured):
                self.gave_up = True
                self._note_change()
                self._telemetry.emit(
                    f"{self.kind}.failed",
                    provider=self.name,
                    error=self.last_error,
                    final=True,
                    disabled=True,
                )
                _log.warning(
                    self._disabled_message.format(
                        kind=self.kind, name=self.name, reason=str(failure)
                    )
                )
                if not reported_started:
                    task_status.started()
                return
            final = factory_final or is_final(failure)
            if self.required or final:
                self.gave_up = True
                self._note_change()
                self._telemetry.emit(
                    f"{self.kind}.failed",
                    provider=self.name,
                    error=self.last_error,
                    final=True,
                    attempt=attempt + 1,
                )
            if self.required:
                raise ProviderFailedError(
                    f"required {self.kind} {self.name!r} failed ({self.last_error}); "
                    "the gateway stops. Fix the cause, or remove it from "
                    "gateway.required_providers to run on without it.",
                    provider=self.name,
                ) from failure
            if final:
                _log.error(
                    "%s %r failed (%s); retrying cannot fix this, so it stays stopped. "
                    "Fix the cause and restart the gateway.",
                    self.kind,
                    self.name,
                    self.last_error,
                    exc_info=failure if not isinstance(failure, ConfigError) else None,
                )
                if not reported_started:
                    task_status.started()
                return
            if (
                started_at is not None
                and self._clock.monotonic_ns() - started_at >= self._stable_after_ns
            ):
                attempt = 0
            delay = self._backoff.next_delay(attempt)
            attempt += 1
            self.restarts += 1
            restarted = True
            self._note_change()
            self._telemetry.emit(
                f"{self.kind}.failed",
                provider=self.name,
                error=self.last_error,
                restart_in_s=delay,
                attempt=attempt,
                final=False,
            )
            _log.warning(
                "%s %r failed (%s); restarting in %.2f s (attempt %d)",
                self.kind,
                self.name,
                self.last_error,
                delay,
                attempt,
            )
            if not reported_started:
                reported_started = True
                task_status.started()
            await anyio.sleep(delay)
