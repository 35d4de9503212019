"""Every command in README.md, docs/*.md and plugins/*/README.md is run by a test or ``.ci/run``.

Commands are read from shell code blocks (```sh, ```bash, ```console with ``$ `` prompts)
and from inline code spans that start with a command name (``tradegw ...``, ``make ...``,
``pip ...``). Each must match exactly one entry of :data:`COMMANDS`, which says how it is
verified; a command in no entry fails with a message saying where it is. The cheap ones
are run here for real; ``tradegw run`` is run end to end against the venue emulators.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest

from tradegw_core.cli import main as cli_main
from tradegw_core.config.loader import load_config

from .docblocks import REPO, SHELL_LANGS, Block, blocks, doc_files, shell_commands

BIN = Path(sys.executable).parent
_INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_COMMAND_START = re.compile(r"^(tradegw|make|pip|python3?|source|export|curl|\.venv/bin/\S+) \S")


@dataclass(frozen=True)
class Found:
    """One command and where the docs show it."""

    command: str
    where: str


def _inline_commands(path: Path) -> Iterator[Found]:
    text = path.read_text(encoding="utf-8")
    in_fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for span in _INLINE.findall(line):
            if _COMMAND_START.match(span):
                yield Found(" ".join(span.split()), f"{path.relative_to(REPO)}:{number}")


def documented_commands() -> list[Found]:
    """Every command the README, docs and plugin READMEs show, in block or inline."""
    found: list[Found] = []
    for path in [*doc_files(), *sorted((REPO / "plugins").glob("*/README.md"))]:
        for block in blocks(path):
            if block.lang in SHELL_LANGS:
                found += [Found(c, block.where) for c in shell_commands(block)]
        found += list(_inline_commands(path))
    return found


def _block(path: Path, lang: str, contains: str) -> Block:
    for block in blocks(path):
        if block.lang == lang and contains in block.text:
            return block
    raise AssertionError(f"no ```{lang} block containing {contains!r} in {path.name}")


# -- verifiers: each gets the commands its entry matched ---------------------------------


def _makefile_target(target: str) -> str:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert match, f"the Makefile has no '{target}' target"
    return match[1]


def verify_make_test(_: list[str]) -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", ci, re.MULTILINE), ".ci/run must run exactly 'make test'"
    recipe = _makefile_target("test")
    assert "pytest" in recipe
    assert "--fail-under=90" in recipe


def _tests_mentioning(*needles: str) -> list[Path]:
    hits = []
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        if path.parent.name == "docs":
            continue
        text = path.read_text(encoding="utf-8")
        if all(n in text for n in needles):
            hits.append(path)
    return hits


def verify_demo(_: list[str]) -> None:
    assert "tradegw demo --duration $(DURATION)" in _makefile_target("demo")
    runners = _tests_mentioning('"demo", "--duration"', '"--headless"')
    assert runners, (
        "no test under tests/ runs 'tradegw demo --duration' (the demo test is missing); "
        "'make demo' and 'tradegw demo' in the docs rely on it"
    )


def verify_bench(_: list[str]) -> None:
    assert "tradegw_core.bench" in _makefile_target("bench")
    assert (REPO / "tests" / "engine" / "test_bench.py").is_file()


def verify_venv(_: list[str]) -> None:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "-m venv $(VENV)" in text, "the Makefile creates .venv the same way"
    assert (BIN / "activate").is_file(), f"{BIN}/activate is what 'source' reads"


def verify_pip_install(commands: list[str]) -> None:
    for command in commands:
        target = command.split()[-1]
        path = (REPO / target).resolve()
        pyproject = path / "pyproject.toml"
        assert pyproject.is_file(), f"'{command}': {target} has no pyproject.toml"
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        dist = importlib.metadata.distribution(project["name"])
        assert dist.version == project["version"], f"{project['name']} is installed"
        if target == ".":
            assert project["name"] == "tradegw-core"
            assert project["scripts"]["tradegw"] == "tradegw_core.cli:main"
        else:
            assert project["name"].startswith("tradegw-")
            assert "tradegw.plugins" in project["entry-points"]


def verify_plugins(commands: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no settings.toml: nothing enabled, as in the README
    out = io.StringIO()
    assert cli_main(["plugins"], out=out) == 0
    lines = out.getvalue().splitlines()
    for plugin in ("binance", "coinbase", "kraken", "consumer-examples"):
        assert any(line.startswith(plugin + " ") for line in lines), plugin
    shown = _block(REPO / "README.md", "console", "$ tradegw plugins").text.splitlines()[1:]
    missing = [line for line in shown if line.rstrip() not in lines]
    assert not missing, f"README's 'tradegw plugins' output differs from the real one: {missing}"
    if any("--json" in c for c in commands):
        out = io.StringIO()
        assert cli_main(["plugins", "--json"], out=out) == 0
        assert {row["id"] for row in json.loads(out.getvalue())} >= {"binance", "kraken"}


def verify_config_schema(_: list[str]) -> None:
    out = io.StringIO()
    assert cli_main(["config-schema"], out=out) == 0
    schema = json.loads(out.getvalue())
    assert schema["title"] == "tradegw settings"
    assert {"gateway", "providers", "orders"} <= set(schema["properties"])


def verify_reference(_: list[str]) -> None:
    # Regeneration itself is checked by tests/docs/test_config_reference.py.
    from tradegw_core.config.reference import GENERATOR

    assert GENERATOR == "python -m tradegw_core.config.reference --output docs/configuration.md"


def _readme_settings(tmp_path: Path) -> Path:
    readme = REPO / "README.md"
    settings = tmp_path / "settings.toml"
    settings.write_text(_block(readme, "toml", "[plugins]").text + "\n", encoding="utf-8")
    secrets = _block(readme, "toml", 'api_key = "your-binance-key"').text
    (tmp_path / ".secrets.toml").write_text(secrets + "\n", encoding="utf-8")
    return settings


def _exports() -> dict[str, str]:
    readme = _block(REPO / "README.md", "sh", "export TRADEGW_")
    env = {}
    for command in shell_commands(readme):
        match = re.fullmatch(r'export (TRADEGW_\w+)="([^"]*)"', command)
        if match:
            env[match[1]] = match[2]
    return env


def verify_exports(commands: list[str], tmp_path: Path) -> None:
    settings = _readme_settings(tmp_path)
    env = _exports()
    assert len(env) == len(commands)
    loaded = load_config(settings, env=env, cwd=tmp_path)
    binance = loaded.settings.section("providers.binance")
    for var, value in env.items():
        key = var.removeprefix("TRADEGW_PROVIDERS__BINANCE__").lower()
        assert getattr(binance, key).get_secret_value() == value, var
    kraken = loaded.settings.section("providers.kraken")
    assert kraken.api_key.get_secret_value() == "your-kraken-key"  # from .secrets.toml
    assert kraken.book_depth == 25  # from settings.toml


def _emulators() -> tuple[subprocess.Popen[str], dict[str, dict[str, str]]]:
    proc = subprocess.Popen(
        [str(BIN / "tradegw"), "emulate", "binance", "kraken", "--duration", "40"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    venues: dict[str, dict[str, str]] = {}
    for _ in range(4):  # two URL lines, then one test key per venue
        line = proc.stdout.readline()
        assert line, "tradegw emulate ended early"
        venue, *pairs = line.split()
        venues.setdefault(venue, {}).update(p.split("=", 1) for p in pairs)
    return proc, venues


def _stop(proc: subprocess.Popen[str]) -> None:
    """End a ``tradegw emulate`` started by a check."""
    proc.terminate()
    proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


def verify_run(_: list[str], tmp_path: Path) -> None:
    _readme_settings(tmp_path)
    proc, venues = _emulators()
    try:
        b, k = venues["binance"], venues["kraken"]
        b_ws = b["ws"]  # ws_url is the combined-stream endpoint the emulator prints
        env = {
            **{key: value for key, value in os.environ.items() if not key.startswith("TRADEGW_")},
            "TRADEGW_PROVIDERS__BINANCE__REST_URL": b["rest"],
            "TRADEGW_PROVIDERS__BINANCE__WS_URL": b_ws,
            "TRADEGW_PROVIDERS__BINANCE__WS_API_URL": b.get("ws_api", b_ws + "/ws-api/v3"),
            "TRADEGW_PROVIDERS__BINANCE__API_KEY": b["api_key"],
            "TRADEGW_PROVIDERS__BINANCE__API_SECRET": b["api_secret"],
            "TRADEGW_PROVIDERS__KRAKEN__REST_URL": k["rest"],
            "TRADEGW_PROVIDERS__KRAKEN__WS_PUBLIC_URL": k["ws"],
            "TRADEGW_PROVIDERS__KRAKEN__WS_AUTH_URL": k["ws"],
            "TRADEGW_PROVIDERS__KRAKEN__API_KEY": k["api_key"],
            "TRADEGW_PROVIDERS__KRAKEN__API_SECRET": k["api_secret"],
            "TRADEGW_METRICS__PORT": "0",  # the exporter runs, on a free port
        }
        run = subprocess.run(
            # the spread consumer compares 1 s merge windows, each closed 1 s (the default
            # allowed skew) after its end: 4.5 s leave room for a complete one
            [str(BIN / "tradegw"), "run", "--config", "settings.toml", "--duration", "4.5"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=40,
        )
    finally:
        _stop(proc)
    assert run.returncode == 0, run.stderr[-3000:]
    records = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    spreads = [r for r in records if str(r.get("event", "")).startswith("spread.")]
    assert spreads, "the README's spread consumer logged no cross-venue spread"
    assert {r["symbol"] for r in spreads} == {"BTC-USDT"}
    assert b["api_secret"] not in run.stderr
    assert k["api_secret"] not in run.stderr
    assert (tmp_path / "tradegw-journal.sqlite3").is_file()


def _free_port_pair() -> int:
    import socket

    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = int(a.getsockname()[1])
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise AssertionError("no two free adjacent ports")


def verify_rehearsal(commands: list[str], tmp_path: Path) -> None:
    """The documented emulate flags, run as shown (on a free port), then the documented run."""
    (emulate,) = [c for c in commands if c.startswith("tradegw emulate")]
    port = _free_port_pair()
    argv = shlex.split(re.sub(r"binance=\d+", f"binance={port}", emulate))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEGW_")}
    proc = subprocess.Popen(
        [str(BIN / "tradegw"), *argv[1:], "--duration", "40"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(5)]  # 2 URL lines, 2 key lines, files
        assert lines[0].startswith(f"binance rest=http://127.0.0.1:{port} "), lines
        assert lines[4].startswith("settings "), lines
        run = subprocess.run(
            [str(BIN / "tradegw"), "run", "--config", "rehearsal/settings.toml",
             "--duration", "1.5"],
            cwd=tmp_path, env={**env, "TRADEGW_METRICS__PORT": "0"}, capture_output=True,
            text=True, timeout=40,
        )  # fmt: skip
    finally:
        _stop(proc)
    assert run.returncode == 0, run.stderr[-3000:]
    secrets = tomllib.loads((tmp_path / "rehearsal" / ".secrets.toml").read_text())
    assert secrets["providers"]["binance"]["api_secret"] not in run.stderr
    assert (tmp_path / "rehearsal" / "state" / "binance.json").is_file()
    assert (tmp_path / "rehearsal" / "state" / "kraken.json").is_file()


def verify_bench_plot(_: list[str]) -> None:
    assert "tradegw_core.bench.plot" in _makefile_target("bench-plot")
    assert (REPO / "tests" / "bench" / "test_venues_bench.py").is_file()  # draws a PNG


_TAPE_SETTINGS = """
[plugins]
enabled = ["kraken", "consumer-examples"]
[logging]
format = "json"
[gateway]
providers = ["kraken"]
consumers = ["printer"]
[providers.kraken]
ws_public_url = "{ws}"
rest_url = "{rest}"
symbols = ["BTC-USDT"]
[consumers.printer]
providers = ["kraken"]
symbols = ["BTC-USDT"]
types = ["BookSnapshot", "BookUpdate", "Trade"]
"""


def _event_ids(stderr: str) -> list[str]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [str(r["event_id"]) for r in lines if "event_id" in r]


def verify_record_replay(commands: list[str], tmp_path: Path) -> None:
    """Record a run against 'tradegw emulate kraken' as documented, then replay it."""
    assert any(c.startswith("tradegw record") for c in commands)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEGW_")}
    proc = subprocess.Popen(
        [str(BIN / "tradegw"), "emulate", "kraken", "--duration", "40"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        urls = dict(p.split("=", 1) for p in proc.stdout.readline().split()[1:])
        (tmp_path / "settings.toml").write_text(_TAPE_SETTINGS.format(**urls))
        record = subprocess.run(
            [str(BIN / "tradegw"), "record", "--config", "settings.toml", "--out",
             "tapes/run1", "--duration", "2"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=40,
        )  # fmt: skip
    finally:
        _stop(proc)
    assert record.returncode == 0, record.stderr[-3000:]
    assert "recorded " in record.stdout
    assert (tmp_path / "tapes" / "run1" / "tape-0000.jsonl").is_file()
    replay = subprocess.run(  # the emulator is gone: the tape alone drives the providers
        [str(BIN / "tradegw"), "replay", "tapes/run1", "--config", "settings.toml"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=40,
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert "(0 skipped)" in replay.stdout, replay.stdout
    live, again = _event_ids(record.stderr), _event_ids(replay.stderr)
    assert live, "the recorded run delivered no event"
    assert again[: len(live)] == live  # the replay delivers what the live run did, in order


def verify_curl_metrics(commands: list[str]) -> None:
    from tradegw_core.config.models import MetricsSettings

    defaults = MetricsSettings()
    for command in commands:
        assert command.endswith(f"http://{defaults.host}:{defaults.port}/metrics")
    body = anyio.run(_scrape_running_gateway)
    # What a running gateway serves from start-up, before any event: its own counters at 0.
    assert "tradegw_dispatcher_received_total 0.0" in body
    assert "tradegw_dispatcher_gaps_total 0.0" in body
    assert "# TYPE tradegw_book_resyncs_total counter" in body


async def _scrape_running_gateway() -> str:
    """The /metrics page of a gateway started the way `tradegw run` starts it."""
    from tradegw_core.config.loader import load_config_mapping
    from tradegw_core.gateway import Gateway, run_gateway

    data = {
        "gateway": {"providers": [], "consumers": []},
        "metrics": {"enabled": True, "host": "127.0.0.1", "port": 0},
    }
    loaded = load_config_mapping(data)
    running: list[Gateway] = []
    ready = anyio.Event()

    def started(gw: Gateway) -> None:
        running.append(gw)
        ready.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: run_gateway(loaded.settings, loaded.registries, started=started))
            await ready.wait()
            url = running[0].metrics_url
            assert url is not None
            assert url.endswith("/metrics")
            async with httpx.AsyncClient() as http:
                body = (await http.get(url, timeout=5)).text
            running[0].stop()
    return body


def _curl(command: str, base: str) -> tuple[str, str, dict[str, str], str | None]:
    """(method, url, headers, body) of a documented ``curl`` command, aimed at ``base``."""
    args = shlex.split(command)[1:]
    method, headers, body, url = "GET", {}, None, ""
    while args:
        arg = args.pop(0)
        if arg == "-s":
            continue
        if arg == "-X":
            method = args.pop(0)
        elif arg == "-H":
            name, _, value = args.pop(0).partition(":")
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            body = args.pop(0)
        else:
            url = arg
    return method, url.replace("http://127.0.0.1:8080", base), headers, body


async def _call_control_api(commands: list[str], tmp_path: Path) -> dict[str, object]:
    from tradegw_binance.emulator import BinanceEmulator

    from tradegw_core.config.loader import load_config_mapping
    from tradegw_core.gateway import Gateway
    from tradegw_core.sim.emulator import EmulatorConfig

    api = tomllib.loads(_block(REPO / "docs" / "operations.md", "toml", "[api]").text)["api"]
    config = EmulatorConfig(venue="binance", symbols=("BTC-USDT",), seed=3, rate=0.001)
    async with BinanceEmulator(config) as emu:
        client = emu.client_settings()
        data = {
            "plugins": {"enabled": ["binance", "consumer-examples"]},
            "gateway": {"providers": ["binance"], "consumers": ["market_maker"]},
            "metrics": {"enabled": False},
            "api": {**api, "port": 0},
            "orders": {"journal_path": str(tmp_path / "journal.sqlite3")},
            "providers": {
                "binance": {
                    "rest_url": client.rest_url,
                    "ws_url": client.ws_url,
                    "ws_api_url": client.ws_api_url,
                    "api_key": client.api_key.get_secret_value(),
                    "api_secret": client.api_secret.get_secret_value(),
                    "symbols": ["BTC-USDT"],
                }
            },
        }
        loaded = load_config_mapping(data)
        async with Gateway(loaded.settings, loaded.registries) as gw, httpx.AsyncClient() as http:
            assert gw.api_url is not None
            answers: dict[str, object] = {}
            for command in commands:
                method, url, headers, body = _curl(command, gw.api_url)
                resp = await http.request(method, url, headers=headers, content=body, timeout=5)
                assert resp.status_code == 200, f"{command}: {resp.status_code} {resp.text}"
                answers[command] = resp.json()
            status = (await http.get(f"{gw.api_url}/v1/status", headers=headers)).json()
    return {"answers": answers, "status": status}


def verify_control_api(commands: list[str], tmp_path: Path) -> None:
    order = [c for c in commands if "/v1/trading" in c] + [
        c for c in commands if "/v1/trading" not in c
    ]
    result = anyio.run(_call_control_api, order, tmp_path)
    answers = result["answers"]
    assert isinstance(answers, dict)
    for command, answer in answers.items():
        if "/v1/trading" in command or "/v1/control" in command:
            assert answer["ok"] is True, (command, answer)
        elif command.endswith("/healthz"):
            assert answer == {"status": "ok"}
    status = result["status"]
    assert isinstance(status, dict)
    assert status["trading"]["global_enabled"] is False  # the kill switch was pulled ...
    assert status["trading"]["switches"] == {"market_maker": True}  # ... mm switched on
    assert status["consumers"]["market_maker"]["trading_enabled"] is False


def verify_plugin_pytest(commands: list[str]) -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "plugins" in pyproject["tool"]["pytest"]["ini_options"]["testpaths"]
    for command in commands:
        assert (REPO / command.split()[1]).is_dir(), command


@dataclass(frozen=True)
class Entry:
    """How one family of documented commands is verified."""

    pattern: str
    how: str
    verify: Callable[..., None]


COMMANDS: tuple[Entry, ...] = (
    Entry(r"make test", ".ci/run runs exactly this (CI)", verify_make_test),
    Entry(
        r"make demo( DURATION=\d+)?|tradegw demo( --duration \d+)?( --headless)?",
        "the demo test under tests/ runs 'tradegw demo --duration N --headless'",
        verify_demo,
    ),
    Entry(r"make bench", "tests/engine/test_bench.py runs the bench", verify_bench),
    Entry(
        r"make bench-plot",
        "the Makefile runs tradegw_core.bench.plot; tests/bench draws the PNG",
        verify_bench_plot,
    ),
    Entry(
        r"tradegw record( --config settings\.toml --out tapes/run1( --duration \d+)?)?"
        r"|tradegw replay( tapes/run1 --config settings\.toml( --pace recorded)?)?",
        "recorded against 'tradegw emulate kraken', then replayed without it",
        verify_record_replay,
    ),
    Entry(
        r"python3 -m venv \.venv|source \.venv/bin/activate",
        "what 'make install' does; checked against the Makefile and this venv",
        verify_venv,
    ),
    Entry(
        r"pip install -e (\.|plugins/[\w-]+)",
        "the path holds that distribution, and it is installed",
        verify_pip_install,
    ),
    Entry(r"tradegw plugins( --json)?", "run here, output compared", verify_plugins),
    Entry(r"tradegw config-schema", "run here, JSON parsed", verify_config_schema),
    Entry(
        r"python -m tradegw_core\.config\.reference --output docs/configuration\.md",
        "tests/docs/test_config_reference.py regenerates and compares",
        verify_reference,
    ),
    Entry(
        r'export TRADEGW_PROVIDERS__BINANCE__API_(KEY|SECRET)="[^"]*"',
        "loaded with the README's settings; the values land in [providers.binance]",
        verify_exports,
    ),
    Entry(
        r"tradegw run( --config settings\.toml)?|tradegw emulate( binance kraken| <venue>)?",
        "the README's settings run end to end against 'tradegw emulate binance kraken'",
        verify_run,
    ),
    Entry(
        r"tradegw emulate binance kraken --port binance=\d+ --state-dir rehearsal/state "
        r"--print-settings rehearsal|tradegw run --config rehearsal/settings\.toml",
        "emulate writes the settings (fixed port, state dir) and 'tradegw run' runs on them",
        verify_rehearsal,
    ),
    Entry(
        r"curl -s http://127\.0\.0\.1:9090/metrics",
        "an exporter on the default [metrics] host serves the registry",
        verify_curl_metrics,
    ),
    Entry(
        r"curl -s (-X POST )?http://127\.0\.0\.1:8080/(healthz|v1/\w+)( -H .*)?",
        "run against a real gateway with the documented [api] settings (over HTTP)",
        verify_control_api,
    ),
    Entry(
        r"\.venv/bin/pytest plugins/[\w-]+ -q",
        "make test runs pytest over tests/ and plugins/",
        verify_plugin_pytest,
    ),
)


def _matches(entry: Entry, command: str) -> bool:
    return re.fullmatch(entry.pattern, command) is not None


def test_every_documented_command_is_in_the_table() -> None:
    found = documented_commands()
    assert any(f.command == "make demo" for f in found)  # sanity: the README is read
    problems = []
    for f in found:
        hits = [e.pattern for e in COMMANDS if _matches(e, f.command)]
        if len(hits) != 1:
            why = "no entry" if not hits else f"{len(hits)} entries"
            problems.append(
                f"{f.where}: '{f.command}' matches {why} in COMMANDS of "
                "tests/docs/test_doc_commands.py; add an entry saying how it is verified "
                "(run it in a test, or name the test or .ci/run step that does)"
            )
    assert not problems, "\n".join(problems)


def test_every_table_entry_is_used() -> None:
    commands = [f.command for f in documented_commands()]
    unused = [e.pattern for e in COMMANDS if not any(_matches(e, c) for c in commands)]
    assert not unused, f"COMMANDS entries no document uses (remove them): {unused}"


@pytest.mark.parametrize("entry", COMMANDS, ids=lambda e: e.pattern[:40])
def test_documented_commands_work(
    entry: Entry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = sorted({f.command for f in documented_commands() if _matches(entry, f.command)})
    if not commands:
        pytest.fail(f"no documented command matches {entry.pattern!r}")
    params = entry.verify.__code__.co_varnames[: entry.verify.__code__.co_argcount]
    extra = {"tmp_path": tmp_path, "monkeypatch": monkeypatch}
    entry.verify(commands, **{name: extra[name] for name in params[1:]})
