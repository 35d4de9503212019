"""Validate raw settings into a model and turn pydantic errors into clear messages.

Each problem becomes one line ``key: why (got value)``, e.g.
``providers.binance.depth: must be one of 5, 10, 20 (got 7)``. Values of secret fields
(``SecretStr`` or names such as ``token``, ``secret``, ``password``) are never shown.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError

from tradegw_core.errors import ConfigError

__all__ = ["format_validation_error", "validate_section"]

M = TypeVar("M", bound=BaseModel)

_SECRET_WORDS = ("secret", "token", "password", "passphrase", "private_key", "api_key")


def _members(annotation: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(annotation)
    return (annotation,)


def _field_info(model: type[BaseModel] | None, key: str | int) -> tuple[Any, str | None]:
    """(annotation, field name) of the field called or aliased ``key``."""
    if model is None or not isinstance(key, str):
        return None, None
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.annotation, name
    return None, None


def _walk(model: type[BaseModel], loc: tuple[str | int, ...]) -> tuple[Any, type[BaseModel] | None]:
    """The annotation at ``loc`` and the model that holds its last key."""
    holder: type[BaseModel] | None = model
    annotation: Any = None
    for i, key in enumerate(loc):
        annotation, _ = _field_info(holder, key)
        if i == len(loc) - 1:
            break
        holder = next(
            (m for m in _members(annotation) if isinstance(m, type) and issubclass(m, BaseModel)),
            None,
        )
    return annotation, holder


def _is_secret(model: type[BaseModel], loc: tuple[str | int, ...]) -> bool:
    if any(isinstance(k, str) and any(w in k.lower() for w in _SECRET_WORDS) for k in loc):
        return True
    for end in range(1, len(loc) + 1):
        annotation, _ = _walk(model, loc[:end])
        if any(m in (SecretStr, SecretBytes) for m in _members(annotation)):
            return True
    return False


def _why(error: Mapping[str, Any], model: type[BaseModel], loc: tuple[str | int, ...]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in ("literal_error", "enum") and "expected" in ctx:
        return "must be one of " + str(ctx["expected"]).replace(" or ", ", ")
    if kind == "missing":
        return "required setting is missing"
    if kind == "extra_forbidden":
        _, holder = _walk(model, loc)
        allowed = ""
        if holder is not None:
            names = sorted(info.alias or name for name, info in holder.model_fields.items())
            allowed = f"; known keys here: {', '.join(names) or 'none'}"
        return f"unknown setting (check the spelling{allowed})"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message[:1].lower() + message[1:]


def format_validation_error(
    exc: ValidationError,
    model: type[BaseModel],
    *,
    prefix: tuple[str, ...] = (),
    sources: Mapping[tuple[str, ...], str] | None = None,
) -> list[str]:
    """One ``key: why (got value)`` line per problem; secret values are masked.

    ``sources`` maps a key path to where its value came from (e.g. an env var name),
    which is appended so the user knows what to fix.
    """
    lines: list[str] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        full = (*prefix, *(str(k) for k in loc))
        key = ".".join(full) or "(top level)"
        why = _why(error, model, loc)
        if error["type"] == "missing":
            got = ""
        elif _is_secret(model, loc):
            got = " (got ***)"
        else:
            value = error.get("input")
            got = f" (got {value!r})" if isinstance(value, str) else f" (got {value})"
            if isinstance(value, Mapping):
                got = ""
        origin = ""
        for path, name in (sources or {}).items():
            if full[: len(path)] == path or path[: len(full)] == full:
                origin = f" [from {name}]"
                break
        lines.append(f"{key}: {why}{got}{origin}")
    return lines


def validate_section(
    model: type[M],
    data: Any,
    *,
    prefix: tuple[str, ...] = (),
    sources: Mapping[tuple[str, ...], str] | None = None,
) -> M:
    """Validate ``data`` with ``model``; ConfigError listing every problem otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = format_validation_error(exc, model, prefix=prefix, sources=sources)
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
