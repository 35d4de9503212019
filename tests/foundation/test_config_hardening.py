"""Hostile configuration: no secret echoed, finite in-range numbers, no duplicate names,
and every start-up error one line naming the key or file, exit 2, no traceback."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from tradegw_core.cli import main
from tradegw_core.config.loader import load_config
from tradegw_core.config.models import ApiSettings, compose_settings_model, is_loopback
from tradegw_core.config.validation import validate_section
from tradegw_core.errors import ConfigError

from .conftest import FakeSite
from .test_config import VENUE_PLUGIN, write

SECRET = "hunter2-very-secret-value"


@pytest.fixture(autouse=True)
def _isolated(cli_isolation: None) -> None:
    """Every test here runs in ``tmp_path`` without TRADEGW_* variables (see conftest)."""


@pytest.fixture
def venue(fake_site: FakeSite) -> FakeSite:
    fake_site.add("venue", VENUE_PLUGIN)
    return fake_site


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    """``tradegw ...`` in-process: the exit code and the stderr lines."""
    code = main(list(argv), out=io.StringIO())
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.splitlines()


def error_of(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    return str(info.value)


def test_a_misspelt_secret_key_in_a_file_is_named_but_its_value_never_shown(
    tmp_path: Path, venue: FakeSite
) -> None:
    cfg = write(
        tmp_path / "gw.toml",
        f'[plugins]\nenabled = ["venue"]\n[providers.venue]\napi_secert = "{SECRET}"\n',
    )
    message = error_of(cfg)
    assert "providers.venue.api_secert: unknown setting" in message
    assert "api_secret" in message  # the known keys, to fix the typo
    assert SECRET not in message


def test_a_misspelt_secret_key_from_the_environment_is_not_shown_either(
    tmp_path: Path, venue: FakeSite
) -> None:
    cfg = write(tmp_path / "gw.toml", '[plugins]\nenabled = ["venue"]\n')
    env = {"TRADEGW_PROVIDERS__VENUE__API_SECERT": SECRET, "TRADEGW_PROVIDERS__VENUE__X": "1"}
    message = error_of(cfg, env)
    assert "[from TRADEGW_PROVIDERS__VENUE__API_SECERT]" in message
    assert SECRET not in message


def test_secret_looking_and_key_material_values_are_masked(tmp_path: Path) -> None:
    class Section(BaseModel):
        model_config = ConfigDict(extra="forbid")
        listen_key: int = 0
        depth: int = 0

    with pytest.raises(ConfigError) as info:
        validate_section(
            Section, {"listen_key": SECRET, "depth": "-----BEGIN PRIVATE KEY-----\nMIIE"}
        )
    message = str(info.value)
    assert "listen_key" in message
    assert "depth" in message
    assert SECRET not in message
    assert "MIIE" not in message


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[orders]\nsubmit_timeout_s = inf\n", "orders.submit_timeout_s"),
        ("[orders]\nsubmit_timeout_s = nan\n", "orders.submit_timeout_s"),
        ("[orders]\nsubmit_timeout_s = 1e300\n", "orders.submit_timeout_s"),
        ("[orders]\nprice_band_pct = 'Infinity'\n", "orders.price_band_pct"),
        ("[book]\nstale_after_s = -1.0\n", "book.stale_after_s"),
        ("[dispatcher]\nlane_size = 100000000000\n", "dispatcher.lane_size"),
    ],
)
def test_numbers_must_be_finite_and_in_range(tmp_path: Path, toml: str, key: str) -> None:
    message = error_of(write(tmp_path / "gw.toml", toml))
    assert message.startswith(f"invalid configuration: {key}: ")
    assert "\n" not in message


def test_plugin_sections_get_the_finite_rule_too() -> None:
    class Loose(BaseModel):
        timeout_s: float = 1.0
        levels: tuple[float, ...] = ()

    model = compose_settings_model([("providers.loose", Loose)])
    data = {"providers": {"loose": {"timeout_s": "inf", "levels": [1.0, float("nan")]}}}
    with pytest.raises(ConfigError) as info:
        validate_section(model, data)
    assert str(info.value).splitlines() == [
        "invalid configuration: providers.loose.timeout_s: must be a finite number (got inf)",
        "invalid configuration: providers.loose.levels.1: must be a finite number (got nan)",
    ]


def test_duplicate_names_in_lists_are_refused(tmp_path: Path, venue: FakeSite) -> None:
    cfg = write(
        tmp_path / "gw.toml",
        '[plugins]\nenabled = ["venue", "venue"]\n[gateway]\nproviders = ["venue", "venue"]\n',
    )
    message = error_of(cfg)
    assert message == "invalid configuration: plugins.enabled: lists 'venue' more than once " + (
        "(each may appear once)"
    )
    cfg.write_text('[plugins]\nenabled = ["venue"]\n[gateway]\nproviders = ["venue", "venue"]\n')
    assert "gateway.providers: lists 'venue' more than once" in error_of(cfg)


def test_an_empty_api_token_is_a_config_error_not_a_crash(tmp_path: Path) -> None:
    cfg = write(tmp_path / "gw.toml", "[api]\nenabled = true\n")
    message = error_of(cfg, {"TRADEGW_API__TOKEN": ""})
    assert message.startswith("invalid configuration: api.token: must not be empty")
    assert "[from TRADEGW_API__TOKEN]" in message


def test_a_non_loopback_bind_needs_tls_or_an_explicit_allowance(tmp_path: Path) -> None:
    token = "t" * 40
    with pytest.raises(ValueError, match="not a loopback address"):
        ApiSettings(enabled=True, host="0.0.0.0", token=token)
    assert ApiSettings(enabled=True, host="0.0.0.0", token=token, allow_insecure_bind=True)
    assert ApiSettings(enabled=True, host="::1", token=token)
    cert = write(tmp_path / "cert.pem", "-----BEGIN CERTIFICATE-----\n")
    assert ApiSettings(enabled=True, host="10.1.2.3", token=token, tls_certfile=str(cert))
    with pytest.raises(ValueError, match=r"tls_certfile .* is not a readable file"):
        ApiSettings(tls_certfile=str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="tls_keyfile needs tls_certfile"):
        ApiSettings(tls_keyfile=str(cert))
    assert [is_loopback(h) for h in ("localhost", "127.0.0.2", "[::1]", "example.com")] == [
        True,
        True,
        True,
        False,
    ]


@pytest.mark.parametrize(
    ("env", "toml", "first_line"),
    [
        (
            {"TRADEGW_BOOK__STALE_AFTER_S": "inf"},
            "",
            "error: invalid configuration: book.stale_after_s: ",
        ),
        (
            {"TRADEGW_API__TOKEN": "", "TRADEGW_API__ENABLED": "true"},
            "",
            "error: invalid configuration: api.token: must not be empty",
        ),
        ({}, "[orders]\nsubmit_timeout_s = inf\n", "error: invalid configuration: orders."),
        ({}, "[api]\nenabled = true\ntoken = 'x'\nhost = '0.0.0.0'\n", "error: invalid "),
        ({}, "[gateway\n", "error: cannot read "),
    ],
    ids=["env-inf", "env-empty-token", "file-inf", "public-bind", "broken-toml"],
)
def test_run_reports_each_start_up_problem_on_one_line_and_exits_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    toml: str,
    first_line: str,
) -> None:
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    if toml:
        write(tmp_path / "settings.toml", toml)
    code, lines = run(capsys, "run", "--duration", "0")
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith(first_line)


def test_several_problems_give_one_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "settings.toml", "[orders]\nsubmit_timeout_s = inf\nquery_attempts = 0\n")
    code, lines = run(capsys, "run", "--duration", "0")
    assert code == 2
    assert [line.split(":")[1].strip() for line in lines] == ["invalid configuration"] * 2
    assert {line.split(": ")[2] for line in lines} == {
        "orders.submit_timeout_s",
        "orders.query_attempts",
    }


def test_a_long_value_is_shown_truncated_on_one_line(tmp_path: Path) -> None:
    cfg = write(tmp_path / "gw.toml", f"[dispatcher]\noverflow = '{'x' * 500}\\nmore'\n")
    message = error_of(cfg)
    assert "\n" not in message
    assert len(message) < 200


def test_run_with_the_api_port_taken_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        write(
            tmp_path / "settings.toml",
            f"[metrics]\nenabled = false\n[api]\nenabled = true\nport = {port}\n"
            f"token = '{'t' * 40}'\n",
        )
        code, lines = run(capsys, "run", "--duration", "0")
    assert code == 2
    assert lines == [
        f"error: api.port: cannot listen on 127.0.0.1:{port} (Address already in use); "
        "set [api] port to a free port, or enabled = false"
    ]
