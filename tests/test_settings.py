"""Strict settings: a bad value, an empty one, a misspelt name or an unsafe
combination is named at start-up; `referral config` shows what is in force."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from referral import create_app
from referral.cli import main
from referral.config import (
    FLASK_NAMES,
    Config,
    ConfigError,
    Settings,
    TestConfig,
    load_settings,
    read_environment,
)

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
TYPED = [name for name, field in Settings.model_fields.items() if field.annotation in (bool, int)]
SAFE_PRODUCTION = {
    "BASE_URL": "https://referral.example",
    "SESSION_COOKIE_SECURE": "true",
    "MAIL_BACKEND": "smtp",
    "STRIPE_SECRET_KEY": "sk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
    "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_connect_example",
}


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as refused:
        Config(env=env)
    return str(refused.value)


@pytest.mark.parametrize(
    ("name", "value", "accepts"),
    [
        ("SESSION_COOKIE_SECURE", "ture", "true or false"),
        ("JOB_LEASE_SECONDS", "5m", "a whole number ≥ 1"),
        ("JOB_MAX_ATTEMPTS", "0", "a whole number ≥ 1"),
        ("MAIL_PORT", "70000", "≤ 65535"),
        ("MAIL_BACKEND", "smtpp", "'outbox' or 'smtp'"),
        ("LOG_LEVEL", "LOUD", "'DEBUG'"),
        ("BASE_URL", "referral.example", "http:// or https://"),
        ("DATABASE_URL", "mysql://db/referral", "sqlite:/// or postgresql+psycopg://"),
        ("RATELIMIT_STORAGE_URI", "redis-ish://x", "memory:// or redis://"),
        ("LOGIN_RATE_LIMIT", "lots", "'10 per minute'"),
        ("SETTLEMENT_RETRY_DAYS", "1,soon", "whole days separated by commas"),
        ("PLATFORM_FEE_BPS", "-5", "≥ 0"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable_the_value_and_what_it_accepts(
    name: str, value: str, accepts: str
) -> None:
    message = refusal({name: value})

    assert f"{name}={value!r} is not accepted" in message
    assert accepts in message


@pytest.mark.parametrize("name", TYPED)
def test_every_typed_setting_refuses_a_word(name: str) -> None:
    assert f"{name}='nonsense' is not accepted" in refusal({name: "nonsense"})


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_an_empty_value_is_refused_or_warned_about_by_name(name: str) -> None:
    if Settings.model_fields[name].default is None:
        _, warnings = load_settings({name: " "})
        assert warnings == [f"{name} is set but empty: treated as not set."]
    else:
        assert f"{name} is empty: expected" in refusal({name: ""})


def test_every_bad_value_is_named_at_once() -> None:
    message = refusal({"SESSION_COOKIE_SECURE": "ture", "JOB_LEASE_SECONDS": "5m"})
    assert "SESSION_COOKIE_SECURE" in message and "JOB_LEASE_SECONDS" in message


def test_a_secret_in_a_bad_value_is_not_repeated() -> None:
    message = refusal({"DATABASE_URL": "mysql://app:hunter2@db/referral"})
    assert "hunter2" not in message
    assert "mysql://app:****@db/referral" in message


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("JOB_LEASE_SECOND", "JOB_LEASE_SECONDS"),
        ("SESION_COOKIE_SECURE", "SESSION_COOKIE_SECURE"),
        ("REFERRAL_SECRET_KEY", "SECRET_KEY"),
        ("RATELIMIT_STORAGE_URL", "RATELIMIT_STORAGE_URI"),
    ],
)
def test_a_misspelt_name_is_warned_about_with_the_setting_it_resembles(
    name: str, suggestion: str
) -> None:
    _, warnings = load_settings({name: "1"})
    assert warnings == [f"{name} is not a setting; did you mean {suggestion}?"]


def test_other_variables_are_not_mistaken_for_settings() -> None:
    _, warnings = load_settings(
        {"PATH": "/bin", "TEST_DATABASE_URL": "postgresql://x/y", "PGPORT": "5432", "HOME": "/"}
    )
    assert warnings == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"STRIPE_WEBHOOK_SECRET": ""}, "STRIPE_WEBHOOK_SECRET is required with STRIPE_SECRET_KEY"),
        (
            {"STRIPE_CONNECT_WEBHOOK_SECRET": ""},
            "STRIPE_CONNECT_WEBHOOK_SECRET is required with STRIPE_SECRET_KEY",
        ),
        (
            {"SESSION_COOKIE_SECURE": "false"},
            "SESSION_COOKIE_SECURE is off while BASE_URL is https",
        ),
        ({"MAIL_BACKEND": "outbox"}, "MAIL_BACKEND=outbox"),
    ],
)
def test_an_unsafe_production_combination_is_refused(change: dict[str, str], named: str) -> None:
    assert named in refusal({**SAFE_PRODUCTION, **change})


def test_the_safe_production_combination_and_the_embedded_default_start() -> None:
    production = Config(env=SAFE_PRODUCTION)
    assert production.SESSION_COOKIE_SECURE is True
    assert production.STRIPE_API_BASE is None
    embedded = Config(env={})
    assert embedded.MAIL_BACKEND == "outbox" and embedded.BASE_URL == "http://127.0.0.1:5000"


def test_values_are_parsed_into_their_types_and_flask_names() -> None:
    config = Config(
        env={
            "SESSION_COOKIE_SECURE": "on",
            "SESSION_LIFETIME_SECONDS": "3600",
            "LOG_LEVEL": "debug",
            "BASE_URL": "http://localhost:8000/",
            "SETTLEMENT_RETRY_DAYS": "1, 2",
        }
    )
    assert config.SESSION_COOKIE_SECURE is True
    assert config.PERMANENT_SESSION_LIFETIME == 3600
    assert config.LOG_LEVEL == "DEBUG"
    assert config.BASE_URL == "http://localhost:8000"
    assert config.SETTLEMENT_RETRY_DAYS == "1,2"


def test_a_dotenv_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("JOB_MAX_ATTEMPTS=3\nMAIL_PORT=2525\n")
    monkeypatch.setenv("MAIL_PORT", "587")

    raw = read_environment(dotenv)

    assert raw["JOB_MAX_ATTEMPTS"] == "3" and raw["MAIL_PORT"] == "587"


def test_test_config_is_the_production_config_with_overrides() -> None:
    config = TestConfig(DATABASE_URL="sqlite://", JOB_MAX_ATTEMPTS=2)
    assert isinstance(config, Config)
    assert config.TESTING and config.JOB_MAX_ATTEMPTS == 2
    assert config.JOB_LEASE_SECONDS == Config(env={}).JOB_LEASE_SECONDS


def test_referral_config_prints_every_setting_with_secrets_masked() -> None:
    app = create_app(
        TestConfig(
            DATABASE_URL="postgresql+psycopg://app:hunter2@db/referral",
            MAIL_PASSWORD="smtp-password-123",
            STRIPE_SECRET_KEY="sk_live_abcdefghijklmnop",
        )
    )
    output = app.test_cli_runner().invoke(args=["config"]).output

    printed = dict(line.split(" = ", 1) for line in output.splitlines())
    assert list(printed) == list(Settings.model_fields)
    assert printed["DATABASE_URL"] == "postgresql+psycopg://app:****@db/referral"
    assert printed["MAIL_PASSWORD"] == "****"
    assert printed["STRIPE_SECRET_KEY"] == "sk_live_****"
    assert printed["SECRET_KEY"] == "****"
    assert printed["JOB_LEASE_SECONDS"] == "300"
    for secret in ("hunter2", "smtp-password-123", "abcdefghijklmnop", app.config["SECRET_KEY"]):
        assert secret not in output


def test_the_command_line_names_a_bad_setting_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JOB_LEASE_SECONDS", "5m")

    result = CliRunner().invoke(main, ["config"])

    assert result.exit_code == 1
    assert "JOB_LEASE_SECONDS='5m' is not accepted: expected a whole number ≥ 1" in result.output
    assert "Traceback" not in result.output


def _readme_configuration_rows() -> dict[str, str]:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`"):
            for name in re.findall(r"`([A-Z_]+)`", cells[0]):
                rows[name] = cells[1]
    return rows


def test_the_readme_configuration_table_lists_exactly_the_settings_with_their_defaults() -> None:
    rows = _readme_configuration_rows()
    assert sorted(rows) == sorted(Settings.model_fields)
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, bool):
            assert ("on" if default else "off") in rows[name], name
        elif default is not None:
            assert f"`{default}`" in rows[name], name
    assert set(FLASK_NAMES) <= set(rows)
