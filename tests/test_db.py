"""The request's unit of work: on PostgreSQL it begins at the first write, and a
pooled connection that sat idle is checked before a request gets it."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import psycopg
import pytest
from flask import Flask
from psycopg.pq import TransactionStatus
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from referral import db as database
from referral.auth.current import api_key_required
from referral.auth.models import LoginSession
from referral.businesses.models import Trade
from referral.db import _reads_only, commits_itself, get_session, request_bind, utcnow
from referral.longlived import open_connections
from tests.support.api import api_client
from tests.support.factories import SignedIn, make_business, make_user


def _postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL's driver begins a transaction before any statement")


@pytest.mark.parametrize(
    ("statement", "reads_only"),
    [
        ("SELECT 1", True),
        ("  select business.id FROM business WHERE business.id = %(id)s", True),
        ("SELECT business.id FROM business FOR UPDATE", False),
        ("SELECT trade.id FROM trade FOR SHARE SKIP LOCKED", False),
        ("INSERT INTO trade (name) VALUES (%(name)s) RETURNING trade.id", False),
        ("UPDATE login_session SET last_seen_at=%(x)s", False),
        ("DELETE FROM job", False),
        ("SAVEPOINT sa_savepoint_1", False),
        ("WITH x AS (SELECT 1) SELECT * FROM x", False),  # unsure: begins
    ],
)
def test_only_plain_selects_run_outside_a_transaction(statement: str, reads_only: bool) -> None:
    assert _reads_only(statement) is reads_only


def test_a_request_begins_its_transaction_at_its_first_write(app: Flask, backend: str) -> None:
    _postgres_only(backend)
    states: list[Any] = []

    def status() -> Any:
        dbapi = get_session().connection().connection.dbapi_connection
        return dbapi.info.transaction_status  # type: ignore[union-attr]

    def probe() -> str:
        session = get_session()
        session.execute(select(Trade.id).limit(1))
        states.append(status())
        session.execute(select(Trade.id).limit(1).with_for_update())
        states.append(status())
        return "ok"

    app.add_url_rule("/_probe", view_func=probe)
    assert app.test_client().get("/_probe").status_code == 200
    assert states == [TransactionStatus.IDLE, TransactionStatus.INTRANS]


def test_a_server_side_cursor_gets_its_transaction(app: Flask, backend: str) -> None:
    """PostgreSQL declares a server-side cursor only inside a transaction."""
    _postgres_only(backend)

    def stream() -> str:
        rows = get_session().execute(select(Trade.id).execution_options(yield_per=2))
        return str(len(rows.all()))

    app.add_url_rule("/_stream", view_func=stream)
    response = app.test_client().get("/_stream")
    assert response.status_code == 200 and int(response.get_data()) > 2


def test_writes_after_reads_commit_together_or_not_at_all(
    app: Flask, db: Session, backend: str
) -> None:
    def write(fail: bool) -> tuple[str, int]:
        session = get_session()
        session.execute(select(Trade.id).limit(1))  # a read first, outside a transaction
        session.add(Trade(name="Bench test A", slug="bench-test-a"))
        session.flush()
        session.add(Trade(name="Bench test B", slug="bench-test-b"))
        session.flush()
        return ("no", 409) if fail else ("ok", 200)

    app.add_url_rule("/_fail", "fail", lambda: write(True))
    app.add_url_rule("/_pass", "pass", lambda: write(False))
    client = app.test_client()
    count = select(func.count()).select_from(Trade).where(Trade.slug.like("bench-test-%"))

    assert client.get("/_fail").status_code == 409
    assert db.scalar(count) == 0
    assert client.get("/_pass").status_code == 200
    assert db.scalar(count) == 2


def test_a_request_that_only_read_ends_without_commit_and_a_change_left_unflushed_commits(
    app: Flask, db: Session
) -> None:
    sent: list[str] = []
    engine = app.extensions["db_engine"]

    def remember(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement.split()[0].upper())

    def read() -> str:
        return str(get_session().execute(select(Trade.name).limit(1)).scalar())

    def rename() -> str:
        trade = get_session().execute(select(Trade).where(Trade.slug == "plumbing")).scalar_one()
        trade.name = "Plumbing and drains"  # left to the request's commit to flush
        return "ok"

    app.add_url_rule("/_read", view_func=read)
    app.add_url_rule("/_rename", view_func=rename)

    def committed(_conn: Any) -> None:
        sent.append("COMMIT")

    event.listen(engine, "before_cursor_execute", remember)
    event.listen(engine, "commit", committed)
    try:
        assert app.test_client().get("/_read").status_code == 200
        assert sent == ["SELECT"]
        assert app.test_client().get("/_rename").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", remember)
        event.remove(engine, "commit", committed)

    assert sent[1:] == ["SELECT", "UPDATE", "COMMIT"]
    assert db.scalar(select(Trade.name).where(Trade.slug == "plumbing")) == "Plumbing and drains"


def test_a_statement_that_commits_itself_sends_no_begin_and_the_next_write_begins(
    app: Flask, db: Session, backend: str
) -> None:
    _postgres_only(backend)
    add = commits_itself(insert(Trade).values(name="Bench test C", slug="bench-test-c"))
    then = insert(Trade).values(name="Bench test D", slug="bench-test-d")
    states = []

    with app.app_context(), request_bind().connect() as connection:
        dbapi = connection.connection.dbapi_connection
        connection.execute(add)
        states.append(dbapi.info.transaction_status)  # type: ignore[union-attr]
        connection.execute(then)
        states.append(dbapi.info.transaction_status)  # type: ignore[union-attr]
        # Left without commit: the second insert is rolled back, the first stays.

    assert states == [TransactionStatus.IDLE, TransactionStatus.INTRANS]
    slugs = db.scalars(select(Trade.slug).where(Trade.slug.like("bench-test-%"))).all()
    assert slugs == ["bench-test-c"]


def test_connections_go_back_to_the_pool_transactional(app: Flask, backend: str) -> None:
    """CLI commands and jobs share the pool: they must not get an autocommit connection."""
    _postgres_only(backend)
    assert app.test_client().get("/healthz").status_code == 200
    with app.extensions["db_engine"].connect() as connection:
        dbapi = connection.connection.dbapi_connection
        assert dbapi.autocommit is False  # type: ignore[union-attr]
        assert dbapi.info.transaction_status == TransactionStatus.IDLE  # type: ignore[union-attr]


def test_an_idle_connection_that_died_is_replaced_before_a_request_uses_it(
    app: Flask, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _postgres_only(backend)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200  # a connection is now in the pool
    engine = app.extensions["db_engine"]
    pooled = engine.connect()  # the one the request used
    other = engine.connect()
    pid = pooled.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
    other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    other.commit()
    other.close()
    pooled.close()  # back last, so the next request gets it
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if idle for long

    assert [client.get("/healthz").status_code for _ in range(2)] == [200, 200]


def test_a_probe_on_a_connection_the_server_dropped_answers_503_and_the_next_gets_a_new_one(
    app: Flask, backend: str
) -> None:
    """The probe sends its statement through the pool's driver connection; a
    connection that died since its last use (too recently for the idle ping)
    fails that probe as unavailable, and is dropped from the pool, not kept."""
    _postgres_only(backend)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    engine = app.extensions["db_engine"]
    pooled = engine.connect()  # the probe's
    pid = pooled.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
    with engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        other.commit()
    pooled.close()  # back last, so the next probe gets it

    dropped = client.get("/healthz", headers={"Accept": "application/json"})
    after = client.get("/healthz")

    assert dropped.status_code == 503
    assert dropped.headers["Retry-After"] == "5"
    assert after.status_code == 200
    with engine.connect() as connection:
        assert connection.connection.dbapi_connection.info.backend_pid != pid  # type: ignore[union-attr]


def test_the_probe_sends_select_1_alone_outside_a_transaction(app: Flask, backend: str) -> None:
    """As the server saw it: the probe's backend last ran `SELECT 1`, not a
    ROLLBACK or COMMIT after it, and holds no transaction."""
    _postgres_only(backend)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    engine = app.extensions["db_engine"]
    with engine.connect() as probe:  # the connection returned last: the probe's
        pid = probe.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
    assert client.get("/healthz").status_code == 200
    with engine.connect() as probe, engine.connect() as other:
        assert probe.connection.dbapi_connection.info.backend_pid == pid  # type: ignore[union-attr]
        seen = other.execute(
            text("SELECT query, state FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).one()

    assert tuple(seen) == ("SELECT 1", "idle")


@pytest.mark.parametrize("backend", ["postgresql"])  # a pool of server connections
def test_a_workers_requests_take_the_connection_returned_last(app: Flask) -> None:
    """Not each of the pool's connections in turn: the one returned last has
    its statements prepared and the tables' definitions read."""
    engine = app.extensions["db_engine"]
    open_connections(engine, count=4)
    backends: list[int] = []

    def note_backend(dbapi_connection, _record, _proxy) -> None:  # type: ignore[no-untyped-def]
        backends.append(dbapi_connection.info.backend_pid)

    event.listen(engine, "checkout", note_backend)
    client = app.test_client()
    for _ in range(5):
        assert client.get("/healthz").status_code == 200

    assert engine.pool.checkedin() >= 4
    assert len(backends) == 5 and len(set(backends)) == 1


def test_a_database_error_names_the_statement_but_not_its_parameters(db: Session) -> None:
    """Such errors are logged and kept on failed jobs; what the server itself
    quotes of the row is left to the log and job-error redaction."""
    trade_id = db.execute(select(func.min(Trade.id))).scalar_one()
    clash = text("INSERT INTO trade (id, slug, name) VALUES (:id, :slug, :name)")

    with pytest.raises(IntegrityError) as error:
        db.execute(clash, {"id": trade_id, "slug": "ana.diaz@example.com", "name": "Ana"})

    assert "INSERT INTO trade" in str(error.value)
    assert "[SQL parameters hidden" in str(error.value)
    assert "'slug': 'ana.diaz@example.com'" not in str(error.value)


@pytest.mark.parametrize("backend", ["postgresql"])  # JIT is a PostgreSQL setting
def test_postgresql_connections_run_without_jit(app: Flask) -> None:
    with app.extensions["db_engine"].connect() as connection:
        assert connection.execute(text("SHOW jit")).scalar() == "off"


@pytest.mark.parametrize("backend", ["postgresql"])  # psycopg's cursor
def test_a_cursor_describes_its_columns_as_psycopg_does_and_keeps_them(app: Flask) -> None:
    """Columns are made when first read (SQLAlchemy mostly does not read them),
    and describe the statement they came from even after the next one ran."""
    eager = "SELECT 1 AS one, 'x'::text AS letter, NULL::timestamptz AS at"
    with app.extensions["db_engine"].connect() as connection:
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(eager)
        described = cursor.description
        cursor.execute("SELECT 2 AS two")
        later = cursor.description
        cursor.execute("SET LOCAL jit = off")  # returns no rows
        nothing = cursor.description
        psycopgs = psycopg.Cursor(cursor.connection)
        psycopgs.execute(eager)

        assert [(c.name, c.type_code) for c in described] == [
            (c.name, c.type_code) for c in psycopgs.description
        ]
        assert [tuple(c) for c in described] == [tuple(c) for c in psycopgs.description]
        assert [c.name for c in later] == ["two"] and nothing is None
        assert connection.execute(select(Trade.slug).limit(1)).keys() == ["slug"]


def test_a_savepoint_that_read_first_still_writes_after_another_connection_wrote(
    app: Flask,
) -> None:
    """SQLite cannot upgrade a reading transaction to a writing one once another
    connection has committed since its read ("database is locked", at once):
    every write transaction there takes the write lock at its start instead."""
    engine = app.extensions["db_engine"]
    with Session(engine) as first, Session(engine) as second:
        with first.begin_nested():
            first.execute(select(Trade.id).limit(1))
            second.add(Trade(name="Written meanwhile", slug="written-meanwhile"))
            writer = threading.Thread(target=second.commit)
            writer.start()
            writer.join(timeout=2)  # done, unless it waits for the first one's write lock
            first.add(Trade(name="Written after", slug="written-after"))
            first.flush()
        first.commit()
        writer.join(timeout=30)
        assert not writer.is_alive()
        slugs = first.scalars(select(Trade.slug).where(Trade.slug.like("written-%"))).all()
    assert sorted(slugs) == ["written-after", "written-meanwhile"]


def test_a_key_s_last_use_is_committed_at_once_not_held_until_the_request_ends(
    app: Flask, db: Session, backend: str
) -> None:
    """Two requests with one key at once: the second must not wait for the
    first's transaction to end just to record a timestamp."""
    _postgres_only(backend)
    seen: list[Any] = []

    @api_key_required
    def probe() -> str:
        get_session().execute(select(Trade.id).limit(1).with_for_update())  # its own transaction
        with database.engine().connect() as another_request:
            seen.append(
                another_request.execute(
                    text("SELECT last_used_at FROM api_key FOR UPDATE NOWAIT")
                ).scalar()
            )
        return "ok"

    app.add_url_rule("/_touch_probe", view_func=probe)
    business = make_business(db, name="Cool Air HVAC", trade="hvac", zip_code="78701")
    owner = make_user(db, business, email="owner@coolair.example.com", name="Alex Cool")
    key = api_client(app, db, owner)
    response = app.test_client().get("/_touch_probe", headers=key.headers)

    assert response.status_code == 200
    assert seen[0] is not None  # written, committed, and the row not locked


def test_a_login_s_last_use_is_recorded_at_most_every_five_minutes(
    app: Flask, db: Session, owner_a: SignedIn
) -> None:
    login = db.scalars(select(LoginSession)).one()
    long_ago = utcnow() - dt.timedelta(minutes=6)
    login.last_seen_at = long_ago
    db.commit()

    assert owner_a.client.get("/").status_code == 200  # type: ignore[attr-defined]
    db.refresh(login)
    touched = login.last_seen_at
    assert touched > long_ago
    assert owner_a.client.get("/").status_code == 200  # type: ignore[attr-defined]
    db.refresh(login)
    assert login.last_seen_at == touched  # fresh: not written again
