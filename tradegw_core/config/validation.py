"""Validate raw settings into a model and turn pydantic errors into clear messages.

Each problem becomes one line ``invalid configuration: key: why (got value)``, e.g.
``providers.binance.depth: must be one of 5, 10, 20 (got 7)``. Values are never shown for
secret fields (``SecretStr`` or names such as ``token``, ``secret``, ``password``, ``key``),
for unknown keys (a misspelt ``api_secert`` holds a secret too), or when they look like key
material; other values are shown truncated, on one line.

Beyond what the field types say, :func:`validate_section` refuses in every section, plugin
sections included, numbers that are not finite (``inf``, ``nan``) and lists of names
holding the same entry twice (``providers = ["binance", "binance"]``).
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError

from tradegw_core.errors import ConfigError

__all__ = ["check_values", "config_error", "format_validation_error", "validate_section"]

M = TypeVar("M", bound=BaseModel)

_SECRET_WORDS = (
    "secret",
    "token",
    "password",
    "passphrase",
    "key",
    "credential",
    "auth",
    "signature",
    "jwt",
    "cookie",
)
_MAX_SHOWN = 60


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
        if error["type"] in ("missing", "extra_forbidden"):
            got = ""  # an unknown key's value may be a secret under a misspelt name
        elif _is_secret(model, loc):
            got = " (got ***)"
        else:
            got = _shown(error.get("input"))
        lines.append(f"{key}: {why}{got}{_origin(full, sources)}")
    return lines


def _origin(full: tuple[str, ...], sources: Mapping[tuple[str, ...], str] | None) -> str:
    for path, name in (sources or {}).items():
        if full[: len(path)] == path or path[: len(full)] == full:
            return f" [from {name}]"
    return ""


def _shown(value: Any) -> str:
    """`` (got <value>)`` on one line, truncated; nothing for sections or key material."""
    if isinstance(value, Mapping) or (isinstance(value, str) and "-----BEGIN" in value):
        return ""
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) > _MAX_SHOWN:
        text = text[:_MAX_SHOWN] + "..."
    return f" (got {text.encode('unicode_escape').decode('ascii')})"


def _fields(node: BaseModel) -> Iterator[tuple[str, Any]]:
    for name, info in type(node).model_fields.items():
        yield info.alias or name, getattr(node, name)


def _check(node: Any, path: tuple[str, ...], problems: list[tuple[tuple[str, ...], str]]) -> None:
    if isinstance(node, BaseModel):
        for key, value in _fields(node):
            _check(value, (*path, key), problems)
    elif isinstance(node, float | Decimal):
        if not (node.is_finite() if isinstance(node, Decimal) else math.isfinite(node)):
            problems.append((path, f"must be a finite number (got {node})"))
    elif isinstance(node, Mapping):
        for key, value in node.items():
            _check(value, (*path, str(key)), problems)
    elif isinstance(node, list | tuple | set | frozenset):
        items = list(node)
        if items and all(isinstance(i, str) for i in items):
            twice = sorted({i for i in items if items.count(i) > 1})
            if twice:
                shown = ", ".join(repr(i) for i in twice)
                problems.append((path, f"lists {shown} more than once (each may appear once)"))
        for i, item in enumerate(items):
            _check(item, (*path, str(i)), problems)


def check_values(
    settings: BaseModel, sources: Mapping[tuple[str, ...], str] | None = None
) -> list[str]:
    """``key: why`` lines for non-finite numbers and duplicate names anywhere in ``settings``."""
    problems: list[tuple[tuple[str, ...], str]] = []
    _check(settings, (), problems)
    return [f"{'.'.join(p)}: {why}{_origin(p, sources)}" for p, why in problems]


def config_error(lines: list[str]) -> ConfigError:
    """One ConfigError whose every line is ``invalid configuration: <problem>``."""
    return ConfigError("\n".join(f"invalid configuration: {line}" for line in lines))


def validate_section(
    model: type[M],
    data: Any,
    *,
    prefix: tuple[str, ...] = (),
    sources: Mapping[tuple[str, ...], str] | None = None,
) -> M:
    """Validate ``data`` with ``model``; ConfigError listing every problem otherwise."""
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        lines = format_validation_error(exc, model, prefix=prefix, sources=sources)
        raise config_error(lines) from None
    problems = check_values(validated, sources)
    if problems:
        if prefix:
            problems = [f"{'.'.join(prefix)}.{line}" for line in problems]
        raise config_error(problems)
    return validated
