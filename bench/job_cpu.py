"""CPU per job of the job worker, in process, against a bare loop sending the
same statements through psycopg alone: what each job costs the worker itself
(claim, handler, "done", lease), without a load generator or the web workers
sharing the two CPUs.

    .venv/bin/python bench/job_cpu.py                # PostgreSQL, claimed one at a time
    .venv/bin/python bench/job_cpu.py --batch 10     # ten at a time (JOB_CLAIM_BATCH)
    .venv/bin/python bench/job_cpu.py --db sqlite    # Referral alone (no bare loop)
    .venv/bin/python bench/job_cpu.py --cprofile 40  # and the costliest calls

The jobs are `send_email` jobs delivering to the outbox table (MAIL_BACKEND
outbox, as the soak and the demo run): the commonest job of the soak, where
a busy worker claims one or two jobs at a time. Each run queues `--jobs`
emails through `queue_email`, as a request would, then times
`run_due_jobs` over them with this process's CPU clock (the lease thread's
CPU included) and the wall clock. On PostgreSQL each round is followed by
the bare loop over as many queued jobs (`bare_jobs`): per claim one
transaction with Referral's claim statement, per job one with the outbox's
look-up of the Message-ID, its INSERT and the job's "done", on one kept
connection; the ratio is bare CPU over Referral's. `--rounds` alternate,
each with a fresh queue; the median is reported with the spread.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import seed  # noqa: E402

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test_bench3"

# Referral's statements (referral/jobs/worker.py, referral/mail/delivery.py),
# as the driver receives them.
BARE_CLAIM = """
UPDATE job SET status='running', attempts=(job.attempts + 1), lease_expires_at=%(lease)s
WHERE job.id IN (
    WITH queued_first AS (
        SELECT job.id AS id, job.run_at AS run_at FROM job
        WHERE job.status = 'queued' AND job.run_at <= %(now)s
        ORDER BY job.run_at, job.id LIMIT %(limit)s FOR UPDATE SKIP LOCKED),
    lapsed_first AS (
        SELECT job.id AS id, job.run_at AS run_at FROM job
        WHERE job.status = 'running' AND job.lease_expires_at < %(now)s
        ORDER BY job.run_at, job.id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
    SELECT due.id FROM (
        SELECT queued_first.id AS id, queued_first.run_at AS run_at FROM queued_first
        UNION ALL
        SELECT lapsed_first.id AS id, lapsed_first.run_at AS run_at FROM lapsed_first) AS due
    ORDER BY due.run_at, due.id LIMIT %(limit)s)
AND (job.status = 'queued' AND job.run_at <= %(now)s
     OR job.status = 'running' AND job.lease_expires_at < %(now)s)
RETURNING job.run_at, job.id, job.kind, job.payload, job.attempts, job.max_attempts
"""
BARE_STORED = "SELECT outbox_email.id FROM outbox_email WHERE outbox_email.message_id = %(id)s"
BARE_STORE = """
INSERT INTO outbox_email (created_at, message_id, recipient, subject, text_body, html_body)
VALUES (%(now)s, %(id)s, %(to)s, %(subject)s, %(text)s, %(html)s) RETURNING outbox_email.id
"""
BARE_DONE = """
UPDATE job SET status='done', finished_at=%(now)s, lease_expires_at=NULL, last_error=''
WHERE job.id = %(job_id)s AND job.status = 'running' AND job.attempts = %(attempt)s
"""


def bare_jobs(dsn: str, *, batch: int, lease_seconds: int) -> int:
    """Run the queued send_email jobs as Referral's worker does, through
    psycopg alone; the number run."""
    import datetime as dt

    import psycopg

    ran = 0
    with psycopg.connect(dsn) as connection:
        while True:
            now = dt.datetime.now(dt.UTC)
            lease = now + dt.timedelta(seconds=lease_seconds)
            with connection.transaction():
                claimed = connection.execute(
                    BARE_CLAIM, {"now": now, "lease": lease, "limit": batch}
                ).fetchall()
            if not claimed:
                return ran
            for _run_at, job_id, _kind, payload, attempt, _max in sorted(claimed):
                with connection.transaction():
                    found = connection.execute(BARE_STORED, {"id": payload["message_id"]})
                    if found.fetchone() is None:
                        connection.execute(
                            BARE_STORE, {**payload, "id": payload["message_id"], "now": now}
                        ).fetchone()
                    done = connection.execute(
                        BARE_DONE,
                        {"now": dt.datetime.now(dt.UTC), "job_id": job_id, "attempt": attempt},
                    )
                    if done.rowcount != 1:
                        raise SystemExit(f"bare loop: job {job_id} was not ours")
                ran += 1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1, help="jobs claimed at a time")
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG_URL, help="its database is DROPPED and created again"
    )
    parser.add_argument(
        "--cprofile", type=int, default=0, metavar="N", help="print the N costliest calls"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as work_dir:
        database_url = seed.fresh_database(args.db, pg_url=args.pg_url, work_dir=Path(work_dir))
        env = seed.referral_env(database_url)
        seed.create_schema(env, how="migrations")
        os.environ.update(env, JOB_CLAIM_BATCH=str(args.batch))
        from referral import create_app
        from referral.db import get_session
        from referral.jobs.worker import run_due_jobs
        from referral.mail.services import queue_email

        app = create_app()

        def queue(count: int) -> None:
            with app.app_context():
                session = get_session()
                for number in range(count):
                    queue_email(
                        session,
                        to=f"customer{number}@bench.example.com",
                        subject="Confirm your email",
                        template="verify_email",
                        name="Ana Diaz",
                        link="http://127.0.0.1:5000/verify/bench",
                        business_name="Bench HVAC",
                    )
                session.commit()

        queue(20)  # the first jobs load what later ones reuse
        run_due_jobs(app)
        cpu_ms: list[float] = []
        wall_ms: list[float] = []
        bare_ms: list[float] = []
        dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        for _ in range(args.rounds):
            queue(args.jobs)
            cpu, wall = time.process_time(), time.perf_counter()
            ran = run_due_jobs(app)
            cpu_ms.append((time.process_time() - cpu) * 1000 / ran)
            wall_ms.append((time.perf_counter() - wall) * 1000 / ran)
            if ran != args.jobs:
                raise SystemExit(f"ran {ran} jobs of {args.jobs}")
            if args.db == "postgresql":
                queue(args.jobs)
                cpu = time.process_time()
                ran = bare_jobs(
                    dsn, batch=args.batch, lease_seconds=app.config["JOB_LEASE_SECONDS"]
                )
                bare_ms.append((time.process_time() - cpu) * 1000 / ran)
        print(
            f"send_email jobs to the outbox, {args.db}, claimed {args.batch} at a time, "
            f"{args.rounds} rounds of {args.jobs}:\n"
            f"  Referral: CPU per job {statistics.median(cpu_ms):.2f} ms "
            f"(rounds {min(cpu_ms):.2f}-{max(cpu_ms):.2f}), "
            f"wall {statistics.median(wall_ms):.2f} ms"
        )
        if bare_ms:
            ratios = sorted(b / a for a, b in zip(cpu_ms, bare_ms, strict=True))
            print(
                f"  bare loop, the same statements through psycopg: CPU per job "
                f"{statistics.median(bare_ms):.2f} ms; ratio "
                f"{statistics.median(bare_ms) / statistics.median(cpu_ms):.0%} "
                f"(rounds {ratios[0]:.0%}-{ratios[-1]:.0%})"
            )
        if args.cprofile:
            queue(args.jobs)
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            run_due_jobs(app)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("SORT", "tottime"))
            print(f"  function calls per job {stats.total_calls / args.jobs:,.0f}")  # type: ignore[attr-defined]
            stats.print_stats(args.cprofile)
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
