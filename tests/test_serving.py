"""A web node's gunicorn settings (referral/serving.py): the documented
production defaults, each overridable from the environment, in a file
gunicorn itself accepts."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from referral import serving

GUNICORN = Path(sys.executable).parent / "gunicorn"


def settings_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> ModuleType:
    for name in ("WEB_CONCURRENCY", "WEB_WORKER_CLASS", "WEB_THREADS", "BIND", "PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return importlib.reload(serving)


def test_the_defaults_are_the_measured_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_with(monkeypatch)

    assert settings.workers == (os.cpu_count() or 1)
    assert (settings.worker_class, settings.threads) == ("sync", 1)
    assert settings.bind == "0.0.0.0:8000"


def test_the_environment_overrides_each_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_with(
        monkeypatch, WEB_CONCURRENCY="3", WEB_WORKER_CLASS="gthread", WEB_THREADS="4", PORT="5000"
    )

    assert (settings.workers, settings.worker_class, settings.threads) == (3, "gthread", 4)
    assert settings.bind == "0.0.0.0:5000"


def test_gunicorn_accepts_the_settings_and_loads_the_app(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "SECRET_KEY": "not-a-secret-for-this-test",
    }
    checked = subprocess.run(
        [str(GUNICORN), "--check-config", "-c", "python:referral.serving", "referral:create_app()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_each_worker_leaves_what_it_loaded_out_of_garbage_collections() -> None:
    """A full collection scanned every object of the loaded app each time."""
    import gc

    try:
        serving.post_worker_init(worker=None)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
