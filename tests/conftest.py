"""Shared fixtures. Every test that touches the database runs on SQLite and,
when TEST_DATABASE_URL is set, on PostgreSQL too (the `backend` parameter).

REFERRAL_REQUIRE_POSTGRES=1 / REFERRAL_REQUIRE_BROWSER=1 (set by .ci/run) turn
"skipped: no PostgreSQL / no Chromium" into failures, so CI cannot go green
without them.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel

from referral.businesses.taxonomy import seed_trades
from referral.domains import load_all_models
from tests.support.app import (
    BACKENDS,
    PG_URL,
    REQUIRE_BROWSER,
    REQUIRE_POSTGRES,
    FormClient,
    make_test_app,
)

pytest_plugins = ["tests.support.factories", "tests.support.businesses", "tests.support.smtp"]


def _cheap_password_hashing() -> None:
    """argon2id with the library's CHEAPEST profile: same algorithm, test-sized cost."""
    from argon2 import PasswordHasher, profiles

    from referral.auth import passwords

    passwords._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    passwords._DUMMY_HASH = passwords._hasher.hash("not-a-real-password-just-for-timing")


_cheap_password_hashing()


# --- databases ---------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty schema with the seeded trades, copied for each test."""
    path = tmp_path_factory.mktemp("db") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    load_all_models().create_all(engine)
    with Session(engine) as session:
        seed_trades(session)
        session.commit()
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set TEST_DATABASE_URL to run these tests")
    engine = create_engine(PG_URL)
    metadata = load_all_models()
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    metadata.create_all(engine)
    engine.dispose()
    yield PG_URL


def _reset_postgres(url: str) -> None:
    """Empty every table the last test wrote to, restart the sequences it
    used, and seed the trades again.

    DELETE, not TRUNCATE: TRUNCATE gives each table new files, synced to disk
    at commit, which took about a second per test here (some 1,000 tests run
    on PostgreSQL); deleting the few rows a test wrote takes milliseconds.
    With the session in the `replica` role no trigger fires, so neither the
    append-only tables' guards nor the foreign keys' checks get in the way
    (that takes a superuser, as CI's `postgres` is; other roles truncate)."""
    engine = _reset_engine(url)
    tables = [table.name for table in SQLModel.metadata.sorted_tables]
    written = " UNION ALL ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT FROM \"{name}\")" for name in tables
    )
    with engine.begin() as connection:
        filled = set(connection.execute(text(written)).scalars())
        if filled:
            _empty(connection, [name for name in reversed(tables) if name in filled])
        connection.execute(
            text(
                "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false) "
                "FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL"
            )
        )
    with Session(engine) as session:
        seed_trades(session)
        session.commit()


def _empty(connection: Connection, tables: list[str]) -> None:
    """Delete every row of `tables` (children first), or truncate them where
    this role may not switch triggers off."""
    quoted = ", ".join(f'"{name}"' for name in tables)
    try:
        with connection.begin_nested():
            connection.execute(text("SET LOCAL session_replication_role = replica"))
    except ProgrammingError:  # not a superuser
        connection.execute(text(f"TRUNCATE {quoted} CASCADE"))
        return
    for name in tables:
        connection.execute(text(f'DELETE FROM "{name}"'))


@functools.cache
def _reset_engine(url: str) -> Engine:
    return create_engine(url, poolclass=NullPool)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        path = tmp_path / "referral.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_schema")
    _reset_postgres(url)
    return url


# --- the app -------------------------------------------------------------------


@pytest.fixture
def app_overrides() -> dict[str, object]:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
def app(database_url: str, app_overrides: dict[str, object], tmp_path: Path) -> Iterator[Flask]:
    app = make_test_app(
        database_url, **{"UPLOAD_FOLDER": str(tmp_path / "uploads"), **app_overrides}
    )
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FormClient:
    return app.test_client()  # type: ignore[return-value]


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session of the test's own, for arranging data and checking results.

    It pushes no app context: requests made while a test's context is pushed
    would share its `g` (and so one client's CSRF token) with each other."""
    with Session(app.extensions["db_engine"], expire_on_commit=False) as session:
        yield session


@pytest.fixture
def app_context(app: Flask) -> Iterator[None]:
    """For tests that call services directly (they render email, read config)."""
    with app.app_context():
        yield


# --- CI guarantees ----------------------------------------------------------------


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    if REQUIRE_POSTGRES and not PG_URL:
        raise pytest.UsageError("REFERRAL_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
    if PG_URL and _is_xdist_worker(session.config):
        _create_database_when_missing(PG_URL)


def _create_database_when_missing(url: str) -> None:
    """The worker's own database (tests/support/app.py), made in the cluster of
    TEST_DATABASE_URL's database."""
    name = make_url(url).database
    admin = create_engine(os.environ["TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


_ran = {"postgresql": 0, "browser": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.outcome in ("passed", "failed"):
        if "[postgresql" in report.nodeid or "-postgresql" in report.nodeid:
            _ran["postgresql"] += 1
        if "browser" in report.keywords:
            _ran["browser"] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _is_xdist_worker(session.config):
        return  # the controller hears every worker's reports and decides
    missing = []
    if REQUIRE_POSTGRES and _ran["postgresql"] == 0:
        missing.append("no PostgreSQL test ran")
    if REQUIRE_BROWSER and _ran["browser"] == 0:
        missing.append("no browser test ran")
    if missing and not session.config.option.collectonly:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line("CI requirement failed: " + "; ".join(missing), red=True)


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    terminalreporter.write_line(
        f"tests run on PostgreSQL: {_ran['postgresql']}; browser tests run: {_ran['browser']}"
    )
