"""docs/configuration.md is the rendering of ``tradegw config-schema``, and is up to date."""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, SecretStr, create_model

from tradegw_core.cli import main as cli_main
from tradegw_core.config.models import compose_settings_model
from tradegw_core.config.reference import (
    GENERATOR,
    field_docstrings,
    main,
    reference_for_installed,
    render_reference,
)

from .docblocks import REPO

DOC = REPO / "docs" / "configuration.md"
HOW = f"regenerate it from the repository root with: .venv/bin/{GENERATOR}"


def test_configuration_md_is_up_to_date() -> None:
    assert DOC.is_file(), f"docs/configuration.md is missing; {HOW}"
    expected = reference_for_installed()
    assert DOC.read_text(encoding="utf-8") == expected, (
        f"docs/configuration.md is out of date with the settings models; {HOW}"
    )


def _documented_keys(text: str) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    section = ""
    for line in text.splitlines():
        header = re.match(r"^### `\[([\w.-]+)\]`$", line)
        if header:
            section = header[1]
            continue
        row = re.match(r"^\| `([\w-]+)` \|", line)
        if row and section:
            keys.add((section, row[1]))
    return keys


def _schema_keys(schema: dict[str, object]) -> set[tuple[str, str]]:
    defs = schema["$defs"]
    assert isinstance(defs, dict)

    def resolve(node: dict[str, object]) -> dict[str, object]:
        for option in node.get("anyOf", [node]):  # type: ignore[attr-defined]
            ref = option.get("$ref")
            if ref:
                return defs[ref.rsplit("/", 1)[1]]  # type: ignore[no-any-return]
        return node

    keys: set[tuple[str, str]] = set()
    top = schema["properties"]
    assert isinstance(top, dict)
    for name, node in top.items():
        section = resolve(node)
        for key, prop in section.get("properties", {}).items():  # type: ignore[attr-defined]
            target = resolve(prop)
            if name in ("providers", "consumers"):
                for sub in target.get("properties", {}):
                    keys.add((f"{name}.{key}", sub))
            else:
                keys.add((name, key))
    return keys


def test_every_key_of_config_schema_is_documented() -> None:
    out = io.StringIO()
    assert cli_main(["config-schema"], out=out) == 0
    schema = json.loads(out.getvalue())

    in_schema = _schema_keys(schema)
    in_doc = _documented_keys(DOC.read_text(encoding="utf-8"))

    assert ("providers.binance", "api_secret") in in_schema  # sanity: plugins are composed
    assert in_schema - in_doc == set(), f"keys missing from docs/configuration.md; {HOW}"
    assert in_doc - in_schema == set(), f"docs/configuration.md lists unknown keys; {HOW}"


def test_main_writes_the_file_and_prints_without_output(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "configuration.md"  # type: ignore[operator]
    assert main(["--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == reference_for_installed()
    assert main([]) == 0
    assert capsys.readouterr().out == reference_for_installed()


class _Venue(BaseModel):
    """``[providers.acme]``: a made-up venue.

    Second paragraph is not shown.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: str
    """The key (required: this section has no default)."""
    api_secret: SecretStr | None = None
    """A | pipe must not break the table."""
    depth: Literal[10, 25] = 10
    qty: Decimal = Field(default=Decimal("0.5"), gt=0)
    price: Decimal | None = None
    weights: list[float] = []
    limits: dict[str, int] = {}
    timeout_s: float = Field(default=2.0, gt=0, le=60, description="From Field(description).")


class _Strategy(BaseModel):
    """``[consumers.demo]``: all defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="x", min_length=1, max_length=8)


def test_render_reference_types_defaults_and_descriptions() -> None:
    model = compose_settings_model(
        [("providers.acme", _Venue), ("consumers.demo", _Strategy), ("extra", _Strategy)]
    )
    text = render_reference(model, owners={"providers.acme": "acme-plugin"})

    assert "### `[providers.acme]`\n\nFrom plugin `acme-plugin`." in text
    assert "A made-up venue." in text
    assert "Second paragraph" not in text
    assert "| `api_key` | string | **required** | The key (required" in text
    assert "| `api_secret` | string, *secret*, optional | unset | A \\| pipe" in text
    assert "| `depth` | one of `10`, `25` | `10` |" in text
    assert '| `qty` | decimal > 0 | `"0.5"` |' in text
    assert "| `price` | decimal, optional | unset |" in text
    assert "| `weights` | list of number | `[]` |" in text
    assert "| `limits` | table | `{}` |" in text
    assert "| `timeout_s` | number > 0, <= 60 | `2.0` | From Field(description). |" in text
    assert '| `name` | string length >= 1, length <= 8 | `"x"` |' in text
    assert "### `[extra]`" in text
    assert "### `[consumers.demo]`" in text
    assert text.index("## Core sections") < text.index("### `[extra]`")
    assert text.index("### `[extra]`") < text.index("## `[providers.<name>]` sections")


def test_empty_groups_are_left_out() -> None:
    text = render_reference(compose_settings_model([]))
    assert "### `[orders]`" in text
    assert "[providers.<name>]` sections" not in text


def test_field_docstrings_reads_bases_and_skips_sourceless_classes() -> None:
    class Child(_Strategy):
        """A subclass."""

        extra: int = 1
        """Its own field."""

    docs = field_docstrings(Child)
    assert docs == {"extra": "Its own field."}
    dynamic = create_model("Dynamic", value=(int, 1))
    assert field_docstrings(dynamic) == {}
    assert field_docstrings(_Venue)["api_secret"] == "A | pipe must not break the table."
