"""``tradegw emulate --print-settings DIR``: settings a gateway runs with against the emulators.

Writes ``DIR/settings.toml`` (plugins, ``[gateway] providers`` and each venue's
``[providers.<venue>]`` URLs and symbols) and ``DIR/.secrets.toml`` (the test
credentials), both under the provider settings' real names, taken from each emulator's
:meth:`~tradegw_core.sim.emulator.Emulator.client_settings`: secret fields (pydantic
``SecretStr``) and the venue's :attr:`~tradegw_core.sim.emulator.Emulator.secret_settings`
go to the secrets file. A multi-line value (a PEM key) is written as a TOML multi-line
string, so it reads back byte for byte. ``tradegw run --config DIR/settings.toml`` then
finds both files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from tradegw_core.sim.emulator import Emulator

__all__ = ["credential_lines", "settings_sections", "toml_value", "write_settings"]


def settings_sections(emu: Emulator) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings, secrets) of ``emu``'s provider section, in the settings' field order."""
    model = emu.client_settings()
    if not isinstance(model, BaseModel):
        raise TypeError(f"{type(emu).__name__}.client_settings() must return a settings model")
    public: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for name in type(model).model_fields:
        if name not in model.model_fields_set:
            continue
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            secret[name] = value.get_secret_value()
        elif name in emu.secret_settings:
            secret[name] = value
        elif value is not None:
            public[name] = list(value) if isinstance(value, tuple) else value
    return public, secret


def credential_lines(emu: Emulator) -> list[str]:
    """``VENUE account=A name=value ...`` per test key, newlines written ``\\n``.

    The first key is named as the provider settings name it (``api_key_name=...
    api_private_key=...`` for Coinbase); further keys, and every key of an emulator
    without :meth:`~Emulator.client_settings`, as ``api_key=... api_secret=...``.
    """
    try:
        _, secret = settings_sections(emu)
    except NotImplementedError:
        secret = {}
    lines = []
    for i, cred in enumerate(emu.credentials):
        values = secret if i == 0 and secret else {
            "api_key": cred.api_key, "api_secret": cred.api_secret}  # fmt: skip
        pairs = " ".join(f"{k}={str(v).replace(chr(10), chr(92) + 'n')}" for k, v in values.items())
        lines.append(f"{emu.venue} account={cred.account} {pairs}")
    return lines


def toml_value(value: Any) -> str:
    """One TOML value (str, bool, int, float, or a list of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if "\n" in value and '"""' not in value and "\\" not in value:
            return f'"""\n{value}"""'
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def _section(name: str, values: Mapping[str, Any]) -> str:
    lines = [f"[{name}]", *(f"{k} = {toml_value(v)}" for k, v in values.items())]
    return "\n".join(lines) + "\n"


def write_settings(
    emulators: Sequence[Emulator], plugins: Sequence[str], directory: Path
) -> tuple[Path, Path]:
    """Write ``settings.toml`` and ``.secrets.toml`` for ``emulators`` under ``directory``.

    ``plugins`` are the plugin ids to enable (the emulators' own plugins).
    """
    directory.mkdir(parents=True, exist_ok=True)
    venues = [emu.venue for emu in emulators]
    parts = [
        "# written by tradegw emulate --print-settings; run: tradegw run --config <this file>\n",
        _section("plugins", {"enabled": sorted(set(plugins))}),
        _section("gateway", {"providers": venues}),
    ]
    secrets = ["# test credentials of the emulators (tradegw emulate --print-settings)\n"]
    for emu in emulators:
        public, secret = settings_sections(emu)
        parts.append(_section(f"providers.{emu.venue}", public))
        secrets.append(_section(f"providers.{emu.venue}", secret))
    settings_path = directory / "settings.toml"
    secrets_path = directory / ".secrets.toml"
    settings_path.write_text("\n".join(parts), encoding="utf-8")
    secrets_path.write_text("\n".join(secrets), encoding="utf-8")
    return settings_path, secrets_path
