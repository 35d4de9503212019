"""Render the configuration reference (``docs/configuration.md``) from the settings schema.

Types, defaults and bounds come from the composed model's JSON Schema, the very document
``tradegw config-schema`` prints; descriptions come from the docstrings under each field
of the section models (pydantic leaves those out of the schema). Regenerate with::

    python -m tradegw_core.config.reference --output docs/configuration.md

A test (``tests/docs/test_config_reference.py``) fails when the file is out of date.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import itertools
import json
import re
import sys
import textwrap
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tradegw_core.config.models import Settings, _Group
from tradegw_core.plugin.registries import Registries

__all__ = [
    "field_docstrings",
    "installed_registries",
    "main",
    "render_reference",
]

GENERATOR = "python -m tradegw_core.config.reference --output docs/configuration.md"

_INTRO = """\
# Configuration reference

<!-- Generated from `tradegw config-schema` by `{generator}`.
     Do not edit by hand: tests/docs/test_config_reference.py fails when it is out of date. -->

One validated model holds the whole configuration: the core's sections below plus one
section per installed plugin (`[providers.<name>]`, `[consumers.<name>]`). Every section is
strict: an unknown key is an error that names the key and lists the known ones (never the
value it was given). In every section, plugin sections included, numbers must be finite
(`inf` and `nan` are refused) and within the ranges shown, and a list of names may not hold
the same entry twice. `tradegw run` reports each problem on one line naming the key (or the
file) and exits with status 2.

Where values come from, later sources winning key by key:

1. `settings.toml` in the working directory, or the file given with `--config FILE`;
2. `.secrets.toml` in the same folder (keep it out of version control);
3. environment variables `TRADEGW_<SECTION>__<KEY>`, with `__` between nested keys, e.g.
   `TRADEGW_PROVIDERS__BINANCE__API_SECRET` sets `[providers.binance] api_secret`.
   Values are parsed as TOML where they look like TOML (`10` is a number, `[1, 2]` a list).

Keys marked *secret* are never printed, logged or shown in error messages. Write money
(prices, quantities, notionals) as strings, `"0.001"`, so it stays an exact decimal.
The JSON Schema itself: `tradegw config-schema`.
"""


def _clean(text: str) -> str:
    """One paragraph of Markdown from a docstring (RST ````x```` becomes ```x```)."""
    text = " ".join(textwrap.dedent(text).split())
    return re.sub(r"``(.+?)``", r"`\1`", text).replace("|", "\\|")


def field_docstrings(cls: type) -> dict[str, str]:
    """The docstring written under each annotated field of ``cls`` (and its bases)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or klass.__module__.startswith("pydantic"):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        tree = ast.parse(source)
        node = tree.body[0] if tree.body else None
        if not isinstance(node, ast.ClassDef):
            continue
        body = node.body
        for stmt, nxt in itertools.pairwise(body):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[stmt.target.id] = nxt.value.value
    return docs


def _resolve(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: Mapping[str, Any] = schema["$defs"][ref.removeprefix("#/$defs/")]
        return resolved
    return node


def _section_node(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    """The object schema of a section (a plugin section with required keys is nullable)."""
    for option in node.get("anyOf", ()):
        if "$ref" in option:
            return _resolve(schema, option)
    return _resolve(schema, node)


def _bounds(node: Mapping[str, Any]) -> list[str]:
    marks = (
        ("exclusiveMinimum", ">"),
        ("minimum", ">="),
        ("exclusiveMaximum", "<"),
        ("maximum", "<="),
    )
    out = [f"{sign} {_number(node[key])}" for key, sign in marks if key in node]
    if "minLength" in node:
        out.append(f"length >= {node['minLength']}")
    if "maxLength" in node:
        out.append(f"length <= {node['maxLength']}")
    return out


def _with_bounds(base: str, node: Mapping[str, Any]) -> str:
    bounds = _bounds(node)
    return f"{base} {', '.join(bounds)}" if bounds else base


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _type(schema: Mapping[str, Any], node: Mapping[str, Any]) -> tuple[str, bool]:
    """(rendered type, secret) of one property."""
    node = _resolve(schema, node)
    if "anyOf" in node:
        members = [_resolve(schema, m) for m in node["anyOf"]]
        nullable = any(m.get("type") == "null" for m in members)
        rest = [m for m in members if m.get("type") != "null"]
        kinds = {m.get("type") for m in rest}
        if kinds == {"number", "string"} and len(rest) == 2:
            number = next(m for m in rest if m.get("type") == "number")
            text, secret = _with_bounds("decimal", number), False
        else:
            parts = [_type(schema, m) for m in rest]
            text = " or ".join(p[0] for p in parts)
            secret = any(p[1] for p in parts)
        return (f"{text}, optional" if nullable else text), secret
    if "enum" in node:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in node["enum"]), False
    if "const" in node:
        return f"`{json.dumps(node['const'])}`", False
    kind = node.get("type")
    if kind == "array":
        inner, secret = _type(schema, node.get("items", {}))
        return f"list of ({inner})" if " " in inner else f"list of {inner}", secret
    if kind == "string" and node.get("format") == "password":
        return "string, *secret*", True
    if kind == "object":
        return "table", False
    names = {"integer": "integer", "number": "number", "boolean": "boolean", "string": "string"}
    base = names.get(str(kind), str(kind or "any"))
    return _with_bounds(base, node), False


def _default(node: Mapping[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" not in node:
        return ""
    value = node["default"]
    if value is None:
        return "unset"
    return "`" + json.dumps(value).replace("|", "\\|") + "`"


def _section_class(annotation: Any) -> type[BaseModel] | None:
    origin = typing.get_origin(annotation)
    members = (
        typing.get_args(annotation)
        if origin is typing.Union or origin is types.UnionType
        else (annotation,)
    )
    for member in members:
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _render_section(
    title: str,
    cls: type[BaseModel],
    node: Mapping[str, Any],
    schema: Mapping[str, Any],
    owner: str | None,
) -> list[str]:
    lines = [f"### `[{title}]`", ""]
    if owner:
        lines += [f"From plugin `{owner}`.", ""]
    doc = inspect.getdoc(cls) or ""
    summary = _clean(doc.split("\n\n")[0]) if doc else ""
    prefix = f"`[{title}]`:"
    summary = summary.removeprefix(prefix).strip()
    if summary:
        lines += [summary[:1].upper() + summary[1:], ""]
    docs = field_docstrings(cls)
    props: Mapping[str, Any] = node.get("properties", {})
    required = set(node.get("required", ()))
    lines += ["| key | type | default | description |", "|---|---|---|---|"]
    for name, info in cls.model_fields.items():
        key = info.alias or name
        prop = props.get(key, {})
        kind, _ = _type(schema, prop)
        text = info.description or docs.get(name, "")
        lines.append(f"| `{key}` | {kind} | {_default(prop, key in required)} | {_clean(text)} |")
    lines.append("")
    return lines


def render_reference(model: type[Settings], *, owners: Mapping[str, str] | None = None) -> str:
    """The Markdown reference of ``model`` (a composed settings model).

    ``owners`` maps a plugin section key (``providers.binance``) to the plugin that
    registered it. Plugin sections are listed by group, then by name.
    """
    owners = owners or {}
    schema = model.model_json_schema(by_alias=True)
    lines = [_INTRO.format(generator=GENERATOR), "## Core sections", ""]
    groups: list[tuple[str, type[BaseModel]]] = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        cls = _section_class(info.annotation)
        if cls is None:
            continue
        if issubclass(cls, _Group):
            groups.append((key, cls))
            continue
        node = _section_node(schema, schema["properties"][key])
        lines += _render_section(key, cls, node, schema, owners.get(key))
    for group, group_cls in groups:
        group_node = _section_node(schema, schema["properties"][group])
        members = sorted(group_cls.model_fields.items(), key=lambda kv: kv[1].alias or kv[0])
        if not members:
            continue
        lines += [
            f"## `[{group}.<name>]` sections",
            "",
            f"Registered by the installed plugins; `[gateway] {group}` says which ones run.",
            "",
        ]
        for name, info in members:
            key = info.alias or name
            cls = _section_class(info.annotation)
            if cls is None:
                continue
            node = _section_node(schema, group_node["properties"][key])
            dotted = f"{group}.{key}"
            lines += _render_section(dotted, cls, node, schema, owners.get(dotted))
    return "\n".join(lines).rstrip() + "\n"


def installed_registries() -> Registries:
    """Registries filled by every installed plugin that imports cleanly (as the CLI does)."""
    from tradegw_core.plugin.discovery import list_installed, load_plugins

    registries = Registries()
    load_plugins([i.id for i in list_installed() if not i.error], registries)
    registries.freeze()
    return registries


def reference_for_installed() -> str:
    """The reference for every installed plugin: what ``docs/configuration.md`` holds."""
    from tradegw_core.config.loader import compose_from_registries

    registries = installed_registries()
    owners = {key: registries.settings.owner(key) for key in registries.settings}
    return render_reference(compose_from_registries(registries), owners=owners)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tradegw_core.config.reference [--output FILE]``."""
    parser = argparse.ArgumentParser(
        prog="python -m tradegw_core.config.reference",
        description="Render the configuration reference (Markdown) for the installed plugins.",
    )
    parser.add_argument("--output", metavar="FILE", help="write here instead of stdout")
    args = parser.parse_args(argv)
    text = reference_for_installed()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through main() in tests
    raise SystemExit(main())
