"""Control-bus messages and their acks (pydantic: validated, with clear errors)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from tradegw_core.schema.events import EventType

__all__ = [
    "MAX_MERGE_COUNT",
    "MAX_MERGE_WINDOW_MS",
    "Ack",
    "AnyControlMessage",
    "ControlMessage",
    "MergedSubscribe",
    "MergedUnsubscribe",
    "SetTradingMode",
    "Subscribe",
    "Unsubscribe",
    "parse_control",
]


def _new_request_id() -> str:
    return uuid.uuid4().hex


class _Control(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str = Field(default_factory=_new_request_id)


class Subscribe(_Control):
    """Ask for ``types`` of ``symbols`` from ``providers`` to reach ``consumer_id``."""

    kind: Literal["subscribe"] = "subscribe"
    consumer_id: str = Field(min_length=1)
    providers: tuple[str, ...] = Field(min_length=1)
    symbols: tuple[str, ...] = Field(min_length=1)
    types: tuple[EventType, ...] = Field(min_length=1)


class Unsubscribe(_Control):
    """Stop what a matching Subscribe started."""

    kind: Literal["unsubscribe"] = "unsubscribe"
    consumer_id: str = Field(min_length=1)
    providers: tuple[str, ...] = Field(min_length=1)
    symbols: tuple[str, ...] = Field(min_length=1)
    types: tuple[EventType, ...] = Field(min_length=1)


MAX_MERGE_WINDOW_MS = 3_600_000
"""The longest merge window (one hour)."""
MAX_MERGE_COUNT = 100_000
"""The most fragments one merge window may hold."""


class MergedSubscribe(_Control):
    """Windowed multi-venue merge of one symbol and type (design section 7).

    ``consumer_id`` receives one MergedEvent per window of ``window_ms`` (event time) that
    holds fragments from every one of ``providers``; a window also closes once it holds
    ``max_count`` fragments. Consumers asking for the same merge share it.
    """

    kind: Literal["merged_subscribe"] = "merged_subscribe"
    consumer_id: str = Field(min_length=1)
    symbol: str = Field(min_length=3)
    type: EventType
    providers: tuple[str, ...] = Field(min_length=2)
    window_ms: int = Field(default=10_000, ge=10, le=MAX_MERGE_WINDOW_MS)
    max_count: int = Field(default=1000, ge=2, le=MAX_MERGE_COUNT)


class MergedUnsubscribe(_Control):
    """Stop the MergedEvents of (``symbol``, ``type``) reaching ``consumer_id``."""

    kind: Literal["merged_unsubscribe"] = "merged_unsubscribe"
    consumer_id: str = Field(min_length=1)
    symbol: str = Field(min_length=3)
    type: EventType


class SetTradingMode(_Control):
    """Switch trading on or off for one consumer, or for all (``consumer_id=None``)."""

    kind: Literal["set_trading_mode"] = "set_trading_mode"
    consumer_id: str | None = None
    enabled: bool


class Ack(BaseModel):
    """The answer to every control message: ``ok``, or a clear ``error``."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    ok: bool
    error: str = ""
    routing_version: int | None = None
    pending: dict[str, str] = Field(default_factory=dict)
    """Providers not running yet (still connecting, or restarting) -> why. Their part of an
    ``ok`` subscription is routed already and served as soon as the provider runs."""


AnyControlMessage: TypeAlias = (
    Subscribe | Unsubscribe | MergedSubscribe | MergedUnsubscribe | SetTradingMode
)
"""Any control message, validated."""

ControlMessage = Annotated[AnyControlMessage, Field(discriminator="kind")]

_control_adapter: TypeAdapter[AnyControlMessage] = TypeAdapter(ControlMessage)


def parse_control(data: bytes | str) -> AnyControlMessage:
    """Validate a JSON control message; raises pydantic.ValidationError with the field path."""
    return _control_adapter.validate_json(data)
