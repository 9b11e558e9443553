"""A web worker warms up before its first request (referral/longlived.py): the
first request of each page had paid for compiling its templates and statements
and for a database connection that knew no table yet, 3-25 times what the next
one cost, and a new worker's first second queued every request behind that."""

from __future__ import annotations

import gc
from types import SimpleNamespace

import pytest
from flask import Flask
from sqlmodel import Session

from referral import longlived, serving
from referral.businesses.actor import Actor
from tests.support.api import api_client
from tests.support.factories import agreed_partnership, sign_in, user_of
from tests.support.statements import compiled_statements


def test_a_warmed_worker_compiles_none_of_the_dashboards_statements(
    app: Flask, db: Session, hvac: Actor, plumber: Actor
) -> None:
    with app.app_context():
        agreed_partnership(db, hvac, plumber)
    longlived.warm_up(app)
    client = sign_in(app, user_of(db, hvac))

    with compiled_statements(app.extensions["db_engine"]) as compiled:
        response = client.get("/analytics")

    assert response.status_code == 200
    assert [sql for thread, sql in compiled if thread.startswith("dashboard")] == []


def test_a_warmed_worker_has_compiled_who_is_asking(app: Flask, db: Session, hvac: Actor) -> None:
    longlived.warm_up(app)
    browser = sign_in(app, user_of(db, hvac))
    api = api_client(app, db, user_of(db, hvac))

    with compiled_statements(app.extensions["db_engine"]) as compiled:
        assert browser.get("/").status_code == 200
        assert api.get("/me").status_code == 200

    lookups = [sql for _, sql in compiled if "FROM login_session" in sql or "FROM api_key" in sql]
    assert lookups == []


def test_a_warmed_worker_has_every_template_compiled_and_its_connections_open(
    app: Flask, db: Session, hvac: Actor
) -> None:
    longlived.warm_up(app)
    loader = app.jinja_env.loader
    assert loader is not None

    def no_more_reading(*_args: object) -> None:
        raise AssertionError("a template was read after the warm-up")

    loader.get_source = no_more_reading  # type: ignore[method-assign]
    assert sign_in(app, user_of(db, hvac)).get("/referrals/outbox").status_code == 200
    pool = app.extensions["db_engine"].pool
    assert pool.checkedin() + pool.checkedout() >= longlived.CONNECTIONS_AT_ONCE


def test_a_warm_up_step_that_fails_is_logged_and_the_others_still_run(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    def broken(_app: Flask) -> None:
        raise RuntimeError("the catalog is on fire")

    monkeypatch.setattr(longlived, "_WARM_UPS", [broken, lambda _app: ran.append("after")])

    longlived.warm_up(app)

    assert ran == ["after"]
    assert "warm-up of test_a_warm_up_step_that_fails" in caplog.text
    assert "the catalog is on fire" in caplog.text


def test_gunicorns_worker_hook_warms_the_workers_app_up(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(And then freezes what it loaded: tests/test_serving.py.)"""
    warmed: list[Flask] = []
    monkeypatch.setattr(longlived, "warm_up", warmed.append)

    try:
        serving.post_worker_init(SimpleNamespace(wsgi=app))
    finally:
        gc.unfreeze()

    assert warmed == [app]
