"""The test app and its databases' settings, for fixtures and for tests that
build an app of their own (other settings, a database of their own)."""

from __future__ import annotations

import os
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import make_url

from referral import create_app
from referral.config import TestConfig


def _database_of_this_worker(url: str) -> str:
    """Under pytest-xdist (`dev.py test` runs one worker per core) each worker
    has a PostgreSQL database of its own, <name>_<worker>, created when missing
    (tests/conftest.py): the suite empties its database between tests."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


PG_URL = _database_of_this_worker(os.environ.get("TEST_DATABASE_URL", ""))
REQUIRE_POSTGRES = os.environ.get("REFERRAL_REQUIRE_POSTGRES") == "1"
REQUIRE_BROWSER = os.environ.get("REFERRAL_REQUIRE_BROWSER") == "1"
BACKENDS = ["sqlite", "postgresql"]


class FormClient(FlaskClient):
    """A test client that fills in the CSRF token the way a browser's form would."""

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Read each response whole and close it, as a WSGI server does: a streamed
        # CSV export keeps its request's database transaction until it is closed.
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)

    def csrf_token(self, page: str = "/") -> str:
        html = self.get(page).get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert match, f"no CSRF token on {page}"
        return match.group(1)

    def post_form(
        self,
        url: str,
        data: dict[str, object] | None = None,
        *,
        page: str | None = None,
        **kwargs: object,
    ):  # type: ignore[no-untyped-def]
        fields = dict(data or {})
        fields["csrf_token"] = self.csrf_token(page or url)
        return self.post(url, data=fields, **kwargs)


def make_test_app(database_url: str, **overrides: object) -> Flask:
    app = create_app(TestConfig(DATABASE_URL=database_url, **overrides))
    app.test_client_class = FormClient
    return app
