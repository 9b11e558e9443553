"""Partner discovery over 100,000 businesses spread across the US.

    .venv/bin/python bench/discovery.py                 # SQLite and PostgreSQL
    .venv/bin/python bench/discovery.py --db sqlite --businesses 20000

Generates businesses on real ZIP code centres (the offline `zipcodes` data),
with random trades and radii, then runs `discover_partners` in process for a
sample of businesses and prints p50/p95/p99 per query. Target: p95 under
20 ms on each database. As everywhere in bench/, the figures are also given
as a ratio to a bare Flask request measured in the same run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import zipcodes
from flask import Flask
from sqlalchemy import create_engine, insert, text
from sqlmodel import Session, SQLModel, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from referral.businesses.models import Business, Trade  # noqa: E402
from referral.businesses.taxonomy import seed_trades  # noqa: E402
from referral.db import make_engine, utcnow  # noqa: E402
from referral.domains import load_all_models  # noqa: E402
from referral.partnerships.discovery import discover_partners  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test_bench"
TARGET_P95_MS = 20.0


def bare_flask_request_ms(samples: int = 2000) -> float:
    """Median time of one request to a bare Flask app through its test client."""
    app = Flask("bare")

    @app.get("/")
    def index() -> dict[str, str]:
        return {"status": "ok"}

    client = app.test_client()
    for _ in range(200):
        client.get("/")
    timings = []
    for _ in range(samples):
        start = time.perf_counter()
        client.get("/")
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def generate(url: str, count: int, seed: int) -> None:
    engine = create_engine(url)
    metadata = load_all_models()
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    metadata.create_all(engine)
    with Session(engine) as session:
        seed_trades(session)
        session.commit()
        trade_ids = list(session.exec(select(Trade.id)))
    rng = random.Random(seed)
    zips = [z for z in zipcodes.list_all() if z["lat"] and z["long"]]
    now = utcnow()
    rows = []
    for n in range(count):
        z = rng.choice(zips)
        rows.append(
            {
                "created_at": now,
                "name": f"Business {n}",
                "trade_id": rng.choice(trade_ids),
                "zip_code": z["zip_code"],
                "latitude": float(z["lat"]),
                "longitude": float(z["long"]),
                "radius_miles": rng.randint(5, 60),
                "description": "",
                "phone": "",
                "website": "",
            }
        )
    with engine.begin() as connection:
        for start in range(0, len(rows), 10_000):
            connection.execute(insert(Business), rows[start : start + 10_000])
    # Statistics and (on PostgreSQL) the visibility map that index-only scans
    # need: what autovacuum keeps up to date on a live database.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        statement = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
        connection.execute(text(statement))
    engine.dispose()


def measure(url: str, queries: int, seed: int) -> list[float]:
    engine = make_engine(url)
    rng = random.Random(seed + 1)
    timings: list[float] = []
    with Session(engine) as session:
        ids = list(session.exec(select(Business.id)))
        sample = [session.get(Business, i) for i in rng.sample(ids, queries)]
        for business in sample[:20]:  # warm caches and prepared statements
            discover_partners(session=session, business=business)
        for business in sample:
            start = time.perf_counter()
            found, total = discover_partners(session=session, business=business, per_page=20)
            timings.append((time.perf_counter() - start) * 1000)
            assert len(found) <= 20 and total >= len(found)
    engine.dispose()
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--businesses", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    SQLModel.metadata  # noqa: B018 - models are loaded by load_all_models in generate()
    bare_ms = bare_flask_request_ms()
    print(f"bare Flask request (test client): {bare_ms:.3f} ms median")
    print(
        f"{'database':<12}{'businesses':>11}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'p95/bare':>10}{'target':>9}  result"
    )
    failed = False
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            url = f"sqlite:///{Path(tmp) / 'discovery.db'}" if backend == "sqlite" else args.pg_url
            started = time.perf_counter()
            generate(url, args.businesses, args.seed)
            print(
                f"  ({backend}: generated {args.businesses:,} businesses in "
                f"{time.perf_counter() - started:.1f} s)",
                file=sys.stderr,
            )
            timings = measure(url, args.queries, args.seed)
            p50, p95, p99 = (percentile(timings, f) for f in (0.5, 0.95, 0.99))
            ok = p95 < TARGET_P95_MS
            failed |= not ok
            print(
                f"{backend:<12}{args.businesses:>11,}{p50:>9.2f}{p95:>9.2f}{p99:>9.2f}"
                f"{p95 / bare_ms:>9.1f}x{TARGET_P95_MS:>8.0f}ms  {'PASS' if ok else 'FAIL'}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
