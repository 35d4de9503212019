"""The ``tradegw`` command: ``plugins``, ``config-schema``, ``run``, ``record``, ``replay``,
``emulate``, ``demo``.

Each command body is a function taking parsed arguments and the output stream, so tests
run them in-process. ``emulate`` and ``demo`` delegate to ``tradegw_core.sim.cli`` and
``tradegw_core.demo`` (``add_arguments(parser)`` + ``main(args, registries) -> int``).
Every command imports what it needs when it runs, so ``tradegw plugins`` stays cheap.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from tradegw_core import __version__
from tradegw_core.errors import ConfigError, PluginError, TradegwError
from tradegw_core.plugin.registries import Registries

__all__ = ["build_parser", "main"]

_DELEGATED = {
    "emulate": "run venue emulators on loopback (VENUE... [--seed N])",
    "demo": "run emulators, the gateway and example consumers",
}
_HOOK_PREFIX = "tradegw_register_"


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser (``emulate`` / ``demo`` arguments belong to their modules)."""
    parser = argparse.ArgumentParser(
        prog="tradegw", description="tradegw: a pluggable trading gateway."
    )
    parser.add_argument("--version", action="version", version=f"tradegw {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("plugins", help="list installed plugins and which are enabled")
    p.add_argument("--config", metavar="FILE", help="settings file (default ./settings.toml)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("config-schema", help="print the JSON Schema of the configuration")
    p.add_argument("--indent", type=int, default=2, help="JSON indentation (default 2)")

    p = sub.add_parser("run", help="run the gateway")
    p.add_argument("--config", metavar="FILE", help="settings file (default ./settings.toml)")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")

    p = sub.add_parser("record", help="run the gateway and record what its providers receive")
    p.add_argument("--config", metavar="FILE", help="settings file (default ./settings.toml)")
    p.add_argument("--out", metavar="DIR", required=True, help="tape directory to write")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--max-mb", type=float, default=1024, help="tape size limit (default 1024)")
    p.add_argument("--segment-mb", type=float, default=64, help="one tape file (default 64)")

    p = sub.add_parser("replay", help="run the gateway's providers from a recorded tape")
    p.add_argument("tape", metavar="TAPE", help="tape directory (or one tape-NNNN.jsonl)")
    p.add_argument("--config", metavar="FILE", help="settings file (default ./settings.toml)")
    p.add_argument("--pace", choices=("fast", "recorded"), default="fast", help="default: fast")
    p.add_argument("--speed", type=float, default=1.0, help="--pace recorded: 2 = twice as fast")
    p.add_argument("--linger", type=float, default=0.5, metavar="S", help="run on S s at the end")

    for name, help_text in _DELEGATED.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _hooks(names: Sequence[str]) -> str:
    return ",".join(n.removeprefix(_HOOK_PREFIX) for n in names) or "-"


def cmd_plugins(args: argparse.Namespace, out: TextIO) -> int:
    """``tradegw plugins``: id, distribution, version, api level, hooks, enabled."""
    from tradegw_core.config.loader import read_raw_config
    from tradegw_core.config.models import PluginsSettings
    from tradegw_core.config.validation import validate_section
    from tradegw_core.plugin.discovery import list_installed

    raw = read_raw_config(args.config)
    enabled = validate_section(
        PluginsSettings, raw.data.get("plugins", {}), prefix=("plugins",), sources=raw.env_sources
    ).enabled
    infos = list_installed(enabled)
    if args.json:
        rows = [
            {
                "id": i.id,
                "dist": i.dist,
                "version": i.version,
                "api_level": i.api_level,
                "hooks": list(i.hooks),
                "enabled": i.enabled,
                "error": i.error,
            }
            for i in infos
        ]
        out.write(json.dumps(rows, indent=2) + "\n")
        return 0
    header = ("ID", "DISTRIBUTION", "VERSION", "API", "ENABLED", "HOOKS")
    table = [header] + [
        (
            i.id,
            i.dist,
            i.version,
            "?" if i.api_level is None else str(i.api_level),
            "yes" if i.enabled else "no",
            _hooks(i.hooks),
        )
        for i in infos
    ]
    widths = [max(len(row[c]) for row in table) for c in range(len(header) - 1)]
    for row in table:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        out.write("  ".join([*cells, row[-1]]).rstrip() + "\n")
    for i in infos:
        if i.error:
            out.write(f"! {i.id} ({i.dist}): {i.error}\n")
    missing = sorted(set(enabled) - {i.id for i in infos})
    for name in missing:
        out.write(f"! {name}: enabled in plugins.enabled but not installed\n")
    if not infos:
        out.write("no plugins installed (entry-point group 'tradegw.plugins')\n")
    return 0


def _installed_registries() -> Registries:
    """Registries filled by every installed plugin that imports cleanly, frozen."""
    from tradegw_core.plugin.discovery import list_installed, load_plugins

    registries = Registries()
    load_plugins([i.id for i in list_installed() if not i.error], registries)
    registries.freeze()
    return registries


def cmd_config_schema(args: argparse.Namespace, out: TextIO) -> int:
    """``tradegw config-schema``: the composed model's JSON Schema, all plugins included."""
    from tradegw_core.config.loader import compose_from_registries

    model = compose_from_registries(_installed_registries())
    schema = model.model_json_schema(by_alias=True)
    schema["title"] = "tradegw settings"
    out.write(json.dumps(schema, indent=args.indent, sort_keys=True) + "\n")
    return 0


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    """``tradegw run``: load settings and plugins, then run the gateway."""
    import anyio

    from tradegw_core.config.loader import SETTINGS_FILE, load_config
    from tradegw_core.gateway import run_gateway
    from tradegw_core.observability.logging import configure_logging

    loaded = load_config(args.config)
    gateway = loaded.settings.gateway
    no_file = args.config is None and not (Path.cwd() / SETTINGS_FILE).is_file()
    if no_file and not gateway.providers and not gateway.consumers:
        raise ConfigError(
            "tradegw run: no settings: nothing to run (no providers, no consumers). Write "
            "./settings.toml or pass --config FILE (see docs/configuration.md), or try "
            "`tradegw demo`"
        )
    configure_logging(loaded.settings.logging.level, loaded.settings.logging.format)
    call = functools.partial(
        run_gateway, loaded.settings, loaded.registries, duration=args.duration
    )
    return anyio.run(call)


_AddArguments = Callable[[argparse.ArgumentParser], None]
_Main = Callable[[argparse.Namespace, Registries], int]


def _emulate_entry() -> tuple[_AddArguments, _Main]:
    from tradegw_core.sim import cli as sim_cli

    return sim_cli.add_arguments, sim_cli.main


def _demo_entry() -> tuple[_AddArguments, _Main]:
    from tradegw_core import demo

    return demo.add_arguments, demo.main


def _delegate(command: str, argv: Sequence[str], out: TextIO) -> int:
    add_arguments, command_main = _emulate_entry() if command == "emulate" else _demo_entry()
    parser = argparse.ArgumentParser(prog=f"tradegw {command}")
    add_arguments(parser)
    args = parser.parse_args(list(argv))
    return int(command_main(args, _installed_registries()))


def cmd_record(args: argparse.Namespace, out: TextIO) -> int:
    """``tradegw record``: see :mod:`tradegw_core.tapes`."""
    from tradegw_core.tapes import cmd_record as record

    return record(args, out)


def cmd_replay(args: argparse.Namespace, out: TextIO) -> int:
    """``tradegw replay``: see :mod:`tradegw_core.tapes`."""
    from tradegw_core.tapes import cmd_replay as replay

    return replay(args, out)


_COMMANDS = {
    "plugins": cmd_plugins,
    "config-schema": cmd_config_schema,
    "run": cmd_run,
    "record": cmd_record,
    "replay": cmd_replay,
}


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run one command; errors print ``error: ...`` on stderr and give a non-zero status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    stream = out if out is not None else sys.stdout
    try:
        if args_list and args_list[0] in _DELEGATED:
            return _delegate(args_list[0], args_list[1:], stream)
        args = build_parser().parse_args(args_list)
        return _COMMANDS[args.command](args, stream)
    except (ConfigError, PluginError) as exc:
        # One line per problem, each naming its key or file; never a traceback.
        for line in str(exc).splitlines() or [type(exc).__name__]:
            sys.stderr.write(f"error: {line}\n")
        return 2
    except TradegwError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130
