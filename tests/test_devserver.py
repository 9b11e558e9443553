"""`referral up --debug`: the reloader and debugger, for contributors, on loopback only."""

from __future__ import annotations

import pytest

from referral import create_app
from referral.config import TestConfig


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "referral.example"])
def test_the_debugger_is_refused_off_loopback(host: str) -> None:
    app = create_app(TestConfig(DATABASE_URL="sqlite://"))

    result = app.test_cli_runner().invoke(args=["up", "--debug", "--host", host])

    assert result.exit_code == 2
    assert f"--debug serves only on loopback, not {host}" in result.output
