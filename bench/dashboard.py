"""One business's analytics dashboard over 1,000,000 referrals.

    .venv/bin/python bench/dashboard.py                  # SQLite and PostgreSQL, scale 1
    .venv/bin/python bench/dashboard.py --scale 0.05     # a quick run on 1/20 of the data
    .venv/bin/python bench/dashboard.py --db sqlite --regenerate

Generates (see dashboard_data.py) 5,000 businesses, 200,000 customers and
1,000,000 referrals with their partnerships, terms, commissions, settlements
and customer jobs, or reuses the copy generated before with the same scale
and seed (an SQLite file under instance/bench/, a PostgreSQL database named
after the scale and marked with a comment); either way the schema is brought
to the migrations' head first, so new indexes apply to a cached copy.

Then computes every figure of the dashboard page in process, with a real
session, as `referral.analytics.views.dashboard()` does: the funnel of the
referrals the page is about (sent, or received: the page shows one direction
at a time) with its medians, the same funnel per partner, partner values,
monthly trends, the lifetime summary, by trade, by month, the top customers
and the lead marketplace by month (its tables are left empty here). Each
run loads the page once each way, each load a sample with its own session,
as a request would. p50/p95 over the samples for the busiest businesses and
for businesses of median activity. Target: p95 under 200 ms for every one of
them, on each database. As everywhere in bench/, the figures are also given as
a ratio to a bare Flask request measured in the same run.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, text, union_all
from sqlalchemy.engine import make_url
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dashboard_data  # noqa: E402
from discovery import bare_flask_request_ms, percentile  # noqa: E402

from referral.analytics import page  # noqa: E402
from referral.analytics.sql import Period  # noqa: E402
from referral.db import make_engine, utcnow  # noqa: E402
from referral.migrate import upgrade  # noqa: E402
from referral.referrals.models import Referral  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test_dash"
CACHE_DIR = ROOT / "instance" / "bench"
TARGET_P95_MS = 200.0
# Bump when dashboard_data.py generates different data: cached copies are then rebuilt.
DATA_VERSION = 2


DIRECTIONS = ("sent", "received")


def figures(
    session: Session, business_id: int, period: Period, direction: str
) -> dict[str, Callable[[], Any]]:
    """Every figure of the dashboard page for one direction (the page shows the
    funnels of referrals sent, or of those received): the page's own list
    (referral.analytics.page), each bound to `session`."""
    calls = page.page_figures(business_id, period=period, direction=direction)
    return {name: functools.partial(call, session) for name, call in calls.items()}


def _backend_cpu(engine: Engine) -> float:
    """CPU seconds the local PostgreSQL backends of the bench's database have
    used (0 on SQLite, or when the server runs elsewhere): the pool's
    connections are the only ones, so their sum is the page's share."""
    if engine.dialect.name != "postgresql":
        return 0.0
    with engine.connect() as connection:
        pids = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        total = 0.0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def dashboard(
    engine: Engine, business_id: int, period: Period, direction: str
) -> tuple[float, float]:
    """One page's figures as the page computes them (referral.analytics.page,
    its groups at once on their own connections): wall and CPU time in ms.

    CPU time is this process's (SQLite runs in it) plus, on PostgreSQL, that of
    its backends when they run on this machine: unlike wall time, it does not
    shrink when the groups run side by side, nor grow when other work shares
    the CPUs."""
    cpu = time.process_time() + _backend_cpu(engine)
    start = time.perf_counter()
    page.compute(engine, business_id, period=period, direction=direction)
    wall = time.perf_counter() - start
    cpu = time.process_time() + _backend_cpu(engine) - cpu
    return wall * 1000, cpu * 1000


def each_figure(
    engine: Engine, business_id: int, period: Period, direction: str
) -> dict[str, float]:
    """Each figure alone, one after another in one session: wall ms of each."""
    spent: dict[str, float] = {}
    with Session(engine) as session:
        for name, compute in figures(session, business_id, period, direction).items():
            began = time.perf_counter()
            compute()
            spent[name] = (time.perf_counter() - began) * 1000
    return spent


# ---------------------------------------------------------------- the data


def _marker(scale: float, seed: int) -> str:
    return f"referral dashboard bench v{DATA_VERSION} scale={scale:g} seed={seed}"


def sqlite_url(scale: float, seed: int) -> str:
    name = f"dashboard-v{DATA_VERSION}-s{scale:g}-seed{seed}.db"
    return f"sqlite:///{CACHE_DIR / name}"


def pg_url(base: str, scale: float) -> str:
    """One database per scale, so a quick run leaves the full data in place."""
    url = make_url(base)
    if scale != 1:
        url = url.set(database=f"{url.database}_s{str(scale).replace('.', '_')}")
    return url.render_as_string(hide_password=False)


def _cached(url: str, scale: float, seed: int) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        marker = Path(parsed.database).with_suffix(".json")  # type: ignore[arg-type]
        return marker.exists() and json.loads(marker.read_text())["marker"] == _marker(scale, seed)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        comment = connection.execute(
            text(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                " WHERE datname = :name"
            ),
            {"name": parsed.database},
        ).first()
        if comment is None:
            if "test" not in parsed.database and "bench" not in parsed.database:  # type: ignore[operator]
                raise SystemExit(f"refusing to create {parsed.database}: not a test database")
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    return comment is not None and comment[0] == _marker(scale, seed)


def _set_marker(url: str, scale: float, seed: int, counts: dict[str, int]) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        marker = Path(parsed.database).with_suffix(".json")  # type: ignore[arg-type]
        generated = utcnow().isoformat()
        marker.write_text(
            json.dumps({"marker": _marker(scale, seed), "generated": generated, "rows": counts})
        )
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(
            text(f"COMMENT ON DATABASE \"{parsed.database}\" IS '{_marker(scale, seed)}'")
        )
    engine.dispose()


def _revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # noqa: BLE001 - no schema yet
        return None
    finally:
        engine.dispose()


def ensure_data(url: str, scale: float, seed: int, regenerate: bool) -> None:
    """Generate the history, or bring a cached copy's schema to the migrations' head."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
    if not regenerate and _cached(url, scale, seed):
        before = _revision(url)
        upgrade(url, "head")
        after = _revision(url)
        if before != after:
            # New migrations (indexes, backfills): fresh statistics for the planner
            # and, on PostgreSQL, a visibility map that lets index-only scans skip
            # the rows a backfill rewrote, as autovacuum would in a while.
            engine = make_engine(url)
            refresh = "ANALYZE" if backend == "sqlite" else "VACUUM ANALYZE"
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text(refresh))
            engine.dispose()
            print(f"  ({backend}: cached data upgraded {before} -> {after})", file=sys.stderr)
        else:
            print(f"  ({backend}: cached data, schema at {after})", file=sys.stderr)
        return
    started = time.perf_counter()
    if backend == "sqlite":
        path = Path(make_url(url).database)  # type: ignore[arg-type]
        for stale in (path, path.with_suffix(".json"), Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
    trade_ids = dashboard_data.prepare_schema(url)
    rows = dashboard_data.build(scale, seed, utcnow(), trade_ids)
    built = time.perf_counter()
    if backend == "sqlite":
        dashboard_data.write_sqlite(make_url(url).database, rows)  # type: ignore[arg-type]
    else:
        engine = make_engine(url)
        dashboard_data.write_postgresql(engine, rows)
        engine.dispose()
    counts = {name: len(r.rows) for name, r in rows.items()}
    _set_marker(url, scale, seed, counts)
    print(
        f"  ({backend}: generated in {time.perf_counter() - started:.0f} s"
        f" ({built - started:.0f} s building rows): "
        + ", ".join(f"{n} {c:,}" for n, c in counts.items())
        + ")",
        file=sys.stderr,
    )


def pick_businesses(engine: Engine, busy: int, typical: int) -> list[tuple[str, int, int]]:
    """The busiest businesses and some of median activity: (kind, id, referrals)."""
    ends = union_all(
        select(Referral.sender_id.label("b")), select(Referral.receiver_id.label("b"))
    ).subquery()
    with Session(engine) as session:
        ranked = session.execute(
            select(ends.c.b, func.count())
            .group_by(ends.c.b)
            .order_by(func.count().desc(), ends.c.b)
        ).all()
    middle = len(ranked) // 2
    chosen = [("busy", b, n) for b, n in ranked[:busy]]
    lo = middle - typical // 2
    chosen += [("median", b, n) for b, n in ranked[lo : lo + typical]]
    return chosen


# ---------------------------------------------------------------- the run


def explain(url: str, business_id: int, period: Period) -> None:
    """Each statement of the page with its plan: EXPLAIN (ANALYZE, BUFFERS) on
    PostgreSQL, EXPLAIN QUERY PLAN and the time on SQLite."""
    engine = make_engine(url)
    captured: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def capture(_conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
        captured.append((statement, parameters))

    with Session(engine) as session:
        named = {
            f"{name} ({direction})": compute
            for direction in DIRECTIONS
            for name, compute in figures(session, business_id, period, direction).items()
        }
        for name, compute in named.items():
            captured.clear()
            compute()
            for statement, parameters in list(captured):
                print(f"===== {name}\n{statement}\n{parameters}")
                with engine.connect() as connection:
                    if engine.dialect.name == "sqlite":
                        plan = connection.exec_driver_sql(
                            "EXPLAIN QUERY PLAN " + statement, parameters
                        ).all()
                        began = time.perf_counter()
                        connection.exec_driver_sql(statement, parameters).all()
                        print(f"  {(time.perf_counter() - began) * 1000:.1f} ms")
                        lines = [f"  {row[3]}" for row in plan]
                    else:
                        plan = connection.exec_driver_sql(
                            "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                        ).all()
                        lines = [f"  {row[0]}" for row in plan]
                print("\n".join(lines))
    engine.dispose()


def measure(
    url: str,
    businesses: list[tuple[str, int, int]],
    period: Period,
    repeats: int,
    *,
    each: bool,
) -> list[dict[str, Any]]:
    """Page loads of each business; with `each`, also each figure alone."""
    engine = make_engine(url)
    results = []
    for kind, business_id, involvement in businesses:
        for _ in range(2):  # warm caches, the pool and the statement cache
            for direction in DIRECTIONS:
                dashboard(engine, business_id, period, direction)
        totals, cpu, per_figure = [], [], []
        for _ in range(repeats):
            for direction in DIRECTIONS:  # a page load of each: each is a sample
                total, used = dashboard(engine, business_id, period, direction)
                totals.append(total)
                cpu.append(used)
                if each:
                    per_figure.append(each_figure(engine, business_id, period, direction))
        results.append(
            {
                "kind": kind,
                "business_id": business_id,
                "referrals": involvement,
                "timings": totals,
                "cpu_ms": statistics.mean(cpu),  # backend CPU comes in 10 ms ticks: a mean
                "figures": {
                    name: statistics.median(s[name] for s in per_figure)
                    for name in (per_figure[0] if per_figure else ())
                },
            }
        )
    engine.dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="scale != 1 appends _s<scale>")
    parser.add_argument("--scale", type=float, default=1.0, help="0.05 for a quick run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--regenerate", action="store_true", help="ignore the cached data")
    parser.add_argument("--months", type=int, default=12, choices=[3, 6, 12, 24])
    parser.add_argument("--busy", type=int, default=3, help="how many of the busiest")
    parser.add_argument("--median", type=int, default=3, help="how many of median activity")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--figures", action="store_true", help="also each figure's median")
    parser.add_argument("--explain", action="store_true", help="plans for the busiest, no timing")
    args = parser.parse_args()

    bare_ms = bare_flask_request_ms()
    period = Period.last_months(args.months, today=utcnow().date())
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    urls = {
        "sqlite": sqlite_url(args.scale, args.seed),
        "postgresql": pg_url(args.pg_url, args.scale),
    }
    report = {}
    load_before = os.getloadavg()
    for backend in backends:
        ensure_data(urls[backend], args.scale, args.seed, args.regenerate)
        engine = make_engine(urls[backend])
        chosen = pick_businesses(engine, args.busy, args.median)
        engine.dispose()
        if args.explain:
            explain(urls[backend], chosen[0][1], period)
            continue
        report[backend] = measure(urls[backend], chosen, period, args.repeats, each=args.figures)
    if args.explain:
        return 0
    load_after = os.getloadavg()

    print(f"bare Flask request (test client): {bare_ms:.3f} ms median")
    print(
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
        f" ({os.cpu_count()} CPUs)"
        + (
            "  -- a busy machine: timings are noisy"
            if load_before[0] > (os.cpu_count() or 1) / 2
            else ""
        )
    )
    print(
        f"dashboard of one business, last {args.months} months, scale {args.scale:g},"
        f" {args.repeats} runs x {len(DIRECTIONS)} directions each;"
        f" target p95 < {TARGET_P95_MS:.0f} ms"
    )
    print(
        f"{'database':<12}{'business':>15}{'referrals':>11}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p50/bare':>10}{'p95/bare':>10}{'cpu ms':>9}"
    )
    failed = False
    for backend, results in report.items():
        worst = 0.0
        for r in results:
            p50, p95 = percentile(r["timings"], 0.5), percentile(r["timings"], 0.95)
            worst = max(worst, p95)
            print(
                f"{backend:<12}{r['kind'] + ' #' + str(r['business_id']):>15}{r['referrals']:>11,}"
                f"{p50:>9.1f}{p95:>9.1f}{p50 / bare_ms:>9.0f}x{p95 / bare_ms:>9.0f}x"
                f"{r['cpu_ms']:>9.1f}"
            )
        ok = worst < TARGET_P95_MS
        failed |= not ok
        print(
            f"{backend:<12}{'worst p95':>15}{'':>11}{'':>9}{worst:>9.1f}{'':>10}"
            f"{worst / bare_ms:>9.0f}x  {'PASS' if ok else 'FAIL'}"
        )
    if args.figures:
        names = list(next(iter(report.values()))[0]["figures"])
        print(
            "\nmedian ms per figure computed alone, one after another"
            " (busiest business, then a median one); the page runs them in"
            f" {page.GROUPS} groups at once"
        )
        header = "".join(f"{b[:6] + ' ' + k:>16}" for b in report for k in ("busy", "median"))
        print(f"{'figure':<22}{header}")
        for name in names:
            cells = ""
            for results in report.values():
                busy = next(r for r in results if r["kind"] == "busy")
                typical = next((r for r in results if r["kind"] == "median"), busy)
                cells += f"{busy['figures'][name]:>16.1f}{typical['figures'][name]:>16.1f}"
            print(f"{name:<22}{cells}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
