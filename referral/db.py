"""Engine, per-request session and the column types shared by every model.

The request is the unit of work: services flush, and the request commits once
after a successful response (status < 400) or rolls back, so a rejected request
writes nothing. CLI commands and jobs use `transaction()` the same way.

A transaction begins with its first write: a request that only reads sends
no BEGIN and no COMMIT. On PostgreSQL see `_begin_on_first_write`; on SQLite,
`_begin_immediate_on_first_write`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import time
from collections.abc import Iterator, Sequence
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    create_engine,
    event,
    func,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.sql import ColumnElement, Executable
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every database.

    SQLite keeps no offset, so values are stored as naive UTC there and given
    their UTC zone back when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC time is required")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    # Bound parameters hold personal data: database errors (logged, and kept on
    # failed jobs) name the statement but not its values, unless echo was asked for.
    hide = not echo
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=hide,
            connect_args={"timeout": 30, "check_same_thread": False},
        )
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "before_cursor_execute", _begin_immediate_on_first_write)
        return engine
    engine = create_engine(
        url,
        echo=echo,
        hide_parameters=hide,
        # JIT compilation pays off for long analytical scans, not for requests:
        # the dashboard's correlated subqueries cross its cost threshold and
        # spent ~15 ms compiling. A URL that sets `options` keeps its own.
        connect_args={} if "options" in parsed.query else {"options": "-c jit=off"},
        pool_size=10,
        max_overflow=10,
        pool_recycle=1800,
        # The connection returned last is taken first. A sync worker serves one
        # request at a time, but its pool holds several (the dashboard's figure
        # groups, the warm-up); taken in turn, each request went to another
        # backend, whose statements were prepared and catalog read separately
        # (a referral POST took 12-13 ms in process over four, 5-8 over one).
        pool_use_lifo=True,
    )
    _ping_when_idle(engine)
    event.listen(engine, "connect", _describe_columns_on_demand)
    event.listen(engine, "before_cursor_execute", _begin_on_first_write)
    return engine


def seconds_between(dialect: str, start: Any, end: Any) -> ColumnElement[float]:
    """Seconds from `start` to `end` as a float (NULL when either is NULL), in
    SQL for the `dialect` named."""
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    # Epoch differences are double precision; EXTRACT(epoch FROM end - start)
    # is numeric since PostgreSQL 14, several times slower to sort.
    return func.date_part("epoch", end) - func.date_part("epoch", start)


def _describe_columns_on_demand(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.cursor_factory = _cursor_describing_on_demand()


@functools.cache
def _cursor_describing_on_demand() -> type:
    """psycopg's cursor, with a `description` that makes each column's
    `psycopg.Column` only when it is read. SQLAlchemy asks for the description
    after every statement, but reads it only to build a result's metadata,
    which it then keeps with the compiled statement: psycopg's eager list made
    a Column per column per statement for nothing (a tenth of the CPU of
    `GET /api/v1/me`, whose one statement has 38 columns)."""
    import psycopg
    from psycopg.pq import ExecStatus

    returns_rows = {ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK}

    class DescribedOnDemand(psycopg.Cursor):  # type: ignore[type-arg]
        @property
        def description(self) -> Sequence[psycopg.Column] | None:  # type: ignore[override]
            result = self.pgresult
            if not result or not (result.nfields or result.status in returns_rows):
                return None  # psycopg's rule: the statement returned no rows
            return _ColumnsOnDemand(_Described(result, self._encoding, self.adapters))

    return DescribedOnDemand


class _Described:
    """What a psycopg.Column reads of its cursor, kept as it was when described
    (a later statement on the cursor does not change an earlier description)."""

    __slots__ = ("pgresult", "_encoding", "adapters")

    def __init__(self, pgresult: Any, encoding: str, adapters: Any) -> None:
        self.pgresult, self._encoding, self.adapters = pgresult, encoding, adapters


class _ColumnsOnDemand(Sequence[Any]):
    __slots__ = ("_described", "_columns")

    def __init__(self, described: _Described) -> None:
        self._described = described
        self._columns: list[Any] | None = None

    def __len__(self) -> int:
        return int(self._described.pgresult.nfields)

    def __getitem__(self, index: Any) -> Any:
        if self._columns is None:
            import psycopg

            self._columns = [psycopg.Column(self._described, i) for i in range(len(self))]  # type: ignore[arg-type]
        return self._columns[index]


# A connection back in the pool less than this long ago answered then; one idle
# for longer (a restarted server or a dropped link may have closed it) is pinged.
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """What `pool_pre_ping` does, but only for a connection that sat idle: a ping
    on every checkout is a round trip on every request. A connection that fails
    its ping is replaced, and the checkout retried, as with pool_pre_ping."""

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()
        # Rolled back by now: a request's reads may have left it in autocommit.
        if dbapi_connection is not None and dbapi_connection.autocommit:
            dbapi_connection.autocommit = False

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"the idle connection failed its ping: {exc}") from exc


LAZY_BEGIN = "referral_lazy_begin"
COMMITS_ITSELF = "referral_commits_itself"
_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open on the server


def _reads_only(statement: str) -> bool:
    """A plain SELECT (no FOR UPDATE / FOR SHARE): it needs no transaction. When
    unsure (WITH, a function call...) the answer is no, which only costs a BEGIN."""
    return statement.lstrip()[:7].upper() == "SELECT " and " FOR " not in statement.upper()


def _begin_on_first_write(
    conn: Connection,
    _cursor: Any,
    statement: str,
    _parameters: Any,
    context: Any,
    _executemany: bool,
) -> None:
    """A request's connection (`request_engine`) runs its reads in autocommit,
    without BEGIN; the first statement that is not a plain read (a write, a
    SELECT ... FOR UPDATE, a SAVEPOINT, a server-side cursor) runs with
    autocommit off, so it and all that follows are one transaction that the
    request commits or rolls back. Back in the pool the connection is
    transactional again (`_ping_when_idle`'s checkin), for jobs and commands.

    Switched here, per statement while no transaction is open, rather than
    by SQLAlchemy's `isolation_level` option, which set and reset the
    connection's characteristics on every checkout (3% of `/api/v1/me`).

    Under READ COMMITTED, PostgreSQL's default, each statement sees the data
    committed when it starts, in a transaction or not; locks are taken only by
    writes and FOR UPDATE/SHARE, which now begin the transaction. So the reads
    before the first write see what they saw inside a transaction."""
    options = context.execution_options  # the engine's, the connection's and the statement's
    if not options.get(LAZY_BEGIN):
        return
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection is None or dbapi_connection.pgconn.transaction_status != _IDLE:
        return  # a transaction is open: the statement is part of it
    autocommit = options.get(COMMITS_ITSELF) or (
        _reads_only(statement) and not options.get("stream_results")
    )
    if dbapi_connection.autocommit is not autocommit:
        dbapi_connection.autocommit = autocommit


# Statements that write (or open a savepoint, which will): on SQLite each one
# outside a transaction first takes the write lock with BEGIN IMMEDIATE.
_SQLITE_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT", "CREATE", "DROP", "ALTER")


def _begin_immediate_on_first_write(
    conn: Connection,
    cursor: Any,
    statement: str,
    _parameters: Any,
    _context: Any,
    _executemany: bool,
) -> None:
    """SQLite's write transactions begin with BEGIN IMMEDIATE, before their first write.

    The driver's own way (a deferred BEGIN before INSERT/UPDATE/DELETE, none
    before SAVEPOINT) lets a transaction read first and ask for the write lock
    later. In WAL mode, if another connection wrote in between, SQLite cannot
    upgrade that transaction and answers "database is locked" at once, without
    waiting out busy_timeout: a settlement run (savepoints) failed so while a
    webhook wrote. Taking the lock at the first write waits its turn instead.
    Reads before it run outside a transaction, each seeing the latest commit,
    as on PostgreSQL under READ COMMITTED."""
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection is None or dbapi_connection.in_transaction:
        return
    if statement.lstrip()[:9].upper().startswith(_SQLITE_WRITES):
        cursor.execute("BEGIN IMMEDIATE")


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # No implicit BEGIN from the driver: `_begin_immediate_on_first_write` begins.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def init_app(app: Flask) -> None:
    app.extensions["db_engine"] = make_engine(
        app.config["DATABASE_URL"], echo=app.config.get("DATABASE_ECHO", False)
    )
    app.extensions["db_request_engine"] = request_engine(app.extensions["db_engine"])

    @app.after_request
    def _finish_unit_of_work(response):  # type: ignore[no-untyped-def]
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            try:
                if response.status_code < 400 and _has_work_to_commit(session):
                    session.commit()
            finally:
                session.close()  # and rolls back what was not committed
        return response

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()


def _has_work_to_commit(session: Session) -> bool:
    """Changes not yet flushed, or a transaction begun by a write. A request
    that only read has neither (its reads ran outside a transaction), and
    closing its session is all the commit would have done, at less cost."""
    if session.new or session.dirty or session.deleted:
        return True
    if not session.in_transaction():
        return False
    dbapi_connection = session.connection().connection.dbapi_connection
    if dbapi_connection is None:
        return False
    if hasattr(dbapi_connection, "in_transaction"):  # sqlite3
        return bool(dbapi_connection.in_transaction)
    return bool(dbapi_connection.pgconn.transaction_status != _IDLE)  # psycopg


def engine() -> Engine:
    return current_app.extensions["db_engine"]


def request_engine(engine: Engine) -> Engine:
    """The engine the request's session uses: on PostgreSQL the same pool, its
    connections reading in autocommit until the first write (`_begin_on_first_write`).
    SQLite's connections already begin only before a write
    (`_begin_immediate_on_first_write`)."""
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(**{LAZY_BEGIN: True})


def commits_itself(statement: Executable) -> Executable:
    """A statement that is a transaction on its own (one atomic write): on a
    request connection with no transaction open it runs in autocommit, in one
    round trip without BEGIN and COMMIT. Elsewhere it joins the transaction."""
    return statement.execution_options(**{COMMITS_ITSELF: True})


def request_bind() -> Engine:
    """The engine of `get_session()`, for work on a connection of its own."""
    return current_app.extensions["db_request_engine"]  # type: ignore[no-any-return]


def ping_database() -> None:
    """`SELECT 1` on a connection of the request pool, in autocommit: one round
    trip. Sent through the pool's driver connection, not a SQLAlchemy
    `Connection`: balancers probe every few seconds each, and for a statement
    with no parameters and a known answer SQLAlchemy's execution (compiled
    cache, execution context, result) was a third of the probe's CPU
    (bench/README.md). The rest is what SQLAlchemy would do: the checkout is
    the pool's (an idle connection pinged first, a refused one raised as
    SQLAlchemy's error), and a connection the server dropped is invalidated;
    the driver's errors are raised as SQLAlchemy's, so an unreachable or
    dropped database answers 503 (referral.errors)."""
    engine = request_bind()
    dialect = engine.dialect
    connection = cursor = None
    try:
        connection = engine.raw_connection()
        if dialect.name == "postgresql":
            connection.driver_connection.autocommit = True  # transactional again at checkin
        cursor = connection.cursor()
        cursor.execute(_PING)
        cursor.fetchone()
    except dialect.loaded_dbapi.Error as exc:
        dbapi_connection = connection.dbapi_connection if connection is not None else None
        dropped = dialect.is_disconnect(exc, dbapi_connection, cursor)
        if dropped and connection is not None:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            _PING, None, exc, dialect.loaded_dbapi.Error, connection_invalidated=dropped
        ) from exc
    finally:
        if cursor is not None:
            cursor.close()
        if connection is not None:
            connection.close()  # back to the pool


_PING = "SELECT 1"


def get_session() -> Session:
    """The session of the current request (or app context), created on first use."""
    if "db_session" not in g:
        g.db_session = Session(current_app.extensions["db_request_engine"], expire_on_commit=False)
    return g.db_session


def keep_loaded(session: Session, *rows: object) -> None:
    """Keep rows in the session's identity map while the session lives (one
    request): it holds loaded rows only while something refers to them, and a
    row the answer shows later (`session.get`) would be read a second time."""
    session.info.setdefault("kept", []).extend(rows)


@contextlib.contextmanager
def transaction(bind: Engine | None = None) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back if it raises."""
    with Session(bind or engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
