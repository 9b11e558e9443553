"""What a long-running process does once it has loaded the app: warm up, so
its first requests cost what later ones do, then leave what it loaded out of
garbage collections."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

from flask import Flask
from sqlalchemy import Engine, literal_column, select
from sqlalchemy.orm import configure_mappers
from sqlmodel import SQLModel

log = logging.getLogger(__name__)

WarmUp = Callable[[Flask], None]
_WARM_UPS: list[WarmUp] = []

# The connections one request may hold at once: its own, and one for each of
# the dashboard's figure groups running beside it (analytics.page).
CONNECTIONS_AT_ONCE = 4


def warm_up_with(step: WarmUp) -> WarmUp:
    """Register a domain's warm-up: `step(app)` runs what the domain's hot paths
    read, for rows that do not exist, so their statements are compiled before
    the first request. It may only read."""
    _WARM_UPS.append(step)
    return step


def prepare_worker(app: Flask | None) -> None:
    """A web worker has loaded the app and is about to take requests."""
    if app is not None:
        warm_up(app)
    freeze_loaded_objects()


def warm_up(app: Flask) -> None:
    """Do now what a worker's first requests would each have paid for: the
    first request of every page compiled its templates and statements and
    opened connections whose database backend knew no table yet. Each of them
    took 3-25 times as long as the next (the dashboard 150 ms, not 20), and a
    new worker's first second queued every request behind them. A step that
    fails is logged; the worker serves anyway, as it would have unwarmed."""
    steps: list[tuple[str, WarmUp]] = [
        ("the mappers", lambda _app: configure_mappers()),
        ("the templates", compile_templates),
        ("the connections", lambda app: open_connections(app.extensions["db_engine"])),
    ]
    steps += [(getattr(step, "__qualname__", repr(step)), step) for step in _WARM_UPS]
    for name, step in steps:
        try:
            with app.app_context():
                step(app)
        except Exception:  # noqa: BLE001 - a cold start is slower, not broken
            log.exception("warm-up of %s failed; the worker serves unwarmed", name)


def compile_templates(app: Flask) -> None:
    """Every template, pages and emails (a request writes its emails)."""
    environment = app.jinja_env
    for name in environment.list_templates():
        environment.get_template(name)


def open_connections(engine: Engine, count: int = CONNECTIONS_AT_ONCE) -> None:
    """Open the pool's first connections, each having touched every table: a
    new PostgreSQL backend reads a table's and its indexes' definitions from
    the catalog at its first use (3-4 ms for a statement over four tables)."""
    connections = [engine.connect() for _ in range(count)]
    try:
        for connection in connections:
            for table in SQLModel.metadata.sorted_tables:
                connection.execute(select(literal_column("1")).select_from(table).limit(0))
            connection.rollback()
    finally:
        for connection in connections:
            connection.close()  # back to the pool, open


def freeze_loaded_objects() -> None:
    """A web or job worker has loaded the app: what exists now lives as long as
    the process (modules, mapped classes, templates). Python's full garbage
    collection scanned all of it each time, about 200,000 objects and 90 ms
    in a web worker, a pause that every request in flight waited out. Frozen,
    they are left out of collections; only what was made since is scanned."""
    gc.collect()
    gc.freeze()
