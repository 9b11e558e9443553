"""The app factory: settings come from the given config, never from literals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from referral import create_app
from referral.config import Config, TestConfig, instance_secret_key


def test_test_config_marks_testing(database_url: str) -> None:
    app = create_app(TestConfig(DATABASE_URL=database_url))
    assert app.testing
    assert app.config["DATABASE_URL"] == database_url


def test_production_config_is_not_testing() -> None:
    assert Config(env={}).TESTING is False


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = instance_secret_key(tmp_path)
    second = instance_secret_key(tmp_path)
    assert first == second
    assert len(first) >= 48
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_environment_settings_are_read(tmp_path: Path) -> None:
    config = Config(
        env={"DATABASE_URL": "sqlite:///x.db", "MAIL_BACKEND": "smtp", "MAIL_PORT": "2525"}
    )
    assert config.DATABASE_URL == "sqlite:///x.db"
    assert config.MAIL_BACKEND == "smtp"
    assert config.MAIL_PORT == 2525


def test_health_check_answers(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_the_apps_log_lines_reach_stderr_when_nobody_configured_logging(tmp_path: Path) -> None:
    # As under gunicorn, which configures its own loggers but not the app's.
    program = (
        "import logging; from referral import create_app; create_app();"
        " logging.getLogger('referral.jobs').info('job 42 done')"
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "SECRET_KEY": "not-a-secret-for-this-test",
        "LOG_LEVEL": "INFO",
    }
    finished = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60
    )

    assert finished.returncode == 0, finished.stderr
    assert "INFO referral.jobs job 42 done" in finished.stderr


def test_a_web_worker_loads_the_payment_and_delivery_libraries_only_when_it_uses_them(
    tmp_path: Path,
) -> None:
    """stripe-python and requests weigh about 30 MiB in every process that
    imports them; pages, API reads and referrals need neither."""
    program = (
        "import sys; from referral import create_app; app = create_app();"
        " client = app.test_client();"
        " assert client.get('/healthz').status_code == 200;"
        " client.get('/'); client.get('/login'); client.get('/api/v1/me');"
        " print(sorted(name for name in ('stripe', 'requests') if name in sys.modules))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "SECRET_KEY": "not-a-secret-for-this-test",
    }
    finished = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60
    )

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "[]"
