"""Soak: the production shape under a mixed load, with faults, checked against
the database at the end.

    .venv/bin/python bench/soak.py                    # 10 minutes
    .venv/bin/python bench/soak.py --faults           # with the faults below
    .venv/bin/python bench/soak.py --smoke --faults   # about 45 s of load (CI)
    .venv/bin/python bench/soak.py --job-workers 1    # measure with one job worker

Starts a throwaway PostgreSQL cluster (or uses --pg-url), Referral under
gunicorn with the production settings (referral/serving.py: a sync worker per
CPU), 2 `referral worker` processes and the local Stripe stand-in, whose
webhooks reach the app through a relay that delivers them as Stripe does
(retried, some twice at once, some late and out of order). It seeds businesses
in partnerships with customers, connected accounts and saved cards, then runs
virtual users on loopback: browsing pages, reading the API, sending referrals
that partners decline, accept, win or lose, and pressing "Settle now" so the
workers charge cards on the stand-in.

--faults: the PostgreSQL server is stopped and started again mid-run (twice
in ten minutes, fast then immediate), a random job worker is SIGKILLed and
started again every few seconds, and the stand-in fails 10% of API requests.

The report gives throughput and p50/p95/p99 per endpoint, and errors. Exit 0
only when there was no error outside the database restarts' windows and every
check of the end state passed (bench/soak_checks.py); 1 otherwise; 2 when the
run could not be set up. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import seed  # noqa: E402
from bench.load import percentile  # noqa: E402
from bench.run import git_commit  # noqa: E402
from bench.seed import SetupFailed  # noqa: E402
from bench.servers import GunicornServer, ServerFailed, WorkerSettings  # noqa: E402
from bench.soak_checks import Verdict, pending_work, verify  # noqa: E402
from bench.soak_client import (  # noqa: E402
    CollectorPauses,
    EndpointFigures,
    Http,
    Pacer,
    Recorder,
)
from bench.soak_cluster import ThrowawayCluster, default_bin_dir  # noqa: E402
from bench.soak_faults import Faults, JobWorkers  # noqa: E402
from bench.soak_stripe import StripeDelivery  # noqa: E402
from bench.soak_users import Scenario  # noqa: E402
from bench.soak_watch import MachineWatch, server_times  # noqa: E402
from bench.soak_world import World, connect_payments, seed_world  # noqa: E402
from referral import domains, serving  # noqa: E402, F401 (domains: the handled events)
from referral.longlived import freeze_loaded_objects  # noqa: E402
from referral.payments import webhooks  # noqa: E402
from tests.support.stripe_standin import StripeStandIn  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"


class Clock:
    """Progress lines on stderr, timed from the start of the run."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def say(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f} s] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of load")
    parser.add_argument("--smoke", action="store_true", help="45 s of load on a smaller world (CI)")
    parser.add_argument("--faults", action="store_true", help="restarts, kills, stand-in 500s")
    parser.add_argument(
        "--pg-url",
        help="an existing server's database, DROPPED and created again (no restart fault); "
        "default: a throwaway cluster of its own",
    )
    parser.add_argument("--pg-bin", type=Path, default=default_bin_dir(), help="initdb's dir")
    # The production defaults (referral/serving.py), unless told otherwise.
    parser.add_argument("--web-workers", type=int, default=serving.workers, help="gunicorn workers")
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default=serving.worker_class)
    parser.add_argument("--threads", type=int, default=serving.threads, help="per gthread worker")
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="requests/s offered by all users together, latency counted from when each "
        "was due; 0 (default): each user sends as soon as answered",
    )
    parser.add_argument("--job-workers", type=int, default=2, help="`referral worker` processes")
    parser.add_argument(
        "--job-nice", type=int, default=0, help="the job workers' CPU priority (os.nice)"
    )
    parser.add_argument("--job-lease-seconds", type=int, default=15, help="JOB_LEASE_SECONDS")
    parser.add_argument("--businesses", type=int, default=36)
    parser.add_argument("--partners-each", type=int, default=6)
    parser.add_argument("--customers-each", type=int, default=300)
    parser.add_argument("--browsers", type=int, default=4, help="threads browsing pages")
    parser.add_argument("--api-readers", type=int, default=3, help="threads reading the API")
    parser.add_argument("--senders", type=int, default=4, help="threads driving referrals")
    parser.add_argument("--settle-every", type=float, default=10, help="seconds between presses")
    parser.add_argument("--kill-every", type=float, default=5, help="seconds between kills (±50%%)")
    parser.add_argument(
        "--restart-every", type=float, default=240, help="seconds between database restarts"
    )
    parser.add_argument("--down-seconds", type=float, default=3, help="database down per restart")
    parser.add_argument("--standin-error-rate", type=float, default=0.10)
    parser.add_argument(
        "--fault-grace", type=float, default=5, help="seconds after a restart errors may last"
    )
    parser.add_argument("--drain-timeout", type=float, default=180)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    args = parser.parse_args(argv)
    if args.smoke:
        args.duration = min(args.duration, 45)
        args.businesses, args.customers_each = 12, 100
        args.browsers, args.api_readers, args.senders = 2, 2, 3
        args.settle_every, args.kill_every = 4, 3
        args.restart_every = args.duration * 0.3  # two restarts: fast, then immediate
    return args


def restart_moments(args: argparse.Namespace) -> list[float]:
    """Seconds into the load: the first at 40% of a short run, then every --restart-every,
    none in the last fifth (so recovery is seen under load)."""
    first = min(args.restart_every, args.duration * 0.4)
    moments: list[float] = []
    moment = first
    while moment <= args.duration * 0.8:
        moments.append(moment)
        moment += args.restart_every
    return moments


def run(args: argparse.Namespace, clock: Clock, work_dir: Path, stack: ExitStack) -> dict:
    cluster: ThrowawayCluster | None = None
    if args.pg_url:
        database_url = seed.fresh_database("postgresql", pg_url=args.pg_url, work_dir=work_dir)
        where = "the database of --pg-url (dropped and created again)"
    else:
        if args.pg_bin is None:
            raise SetupFailed("no PostgreSQL server binaries found: give --pg-bin or --pg-url")
        cluster = ThrowawayCluster(args.pg_bin)
        stack.callback(cluster.stop)
        cluster.start()
        database_url = cluster.url()
        where = f"a throwaway cluster ({args.pg_bin.parent.name}) on port {cluster.port}"
    clock.say(f"PostgreSQL: {where}")

    secret = "whsec_soak_" + secrets.token_hex(16)
    connect_secret = "whsec_soak_connect_" + secrets.token_hex(16)
    standin = StripeStandIn().start()
    stack.callback(standin.stop)
    app_server = GunicornServer(
        "referral",
        "referral:create_app()",
        env={},
        settings=WorkerSettings(args.web_workers, args.worker_class, args.threads),
        work_dir=work_dir,
        access_log=work_dir / "access.log",
    )
    env = {
        **seed.referral_env(database_url),
        "STRIPE_API_BASE": standin.api_base,
        "STRIPE_WEBHOOK_SECRET": secret,
        "STRIPE_CONNECT_WEBHOOK_SECRET": connect_secret,
        "STRIPE_INSTALL_ID": "soak-" + secrets.token_hex(4),
        "BASE_URL": app_server.url,
        "UPLOAD_FOLDER": str(work_dir / "uploads"),
        # A killed worker's job is taken over when its lease lapses: the default
        # 300 s would outlast the run. The lease is renewed every third of it.
        "JOB_LEASE_SECONDS": str(args.job_lease_seconds),
    }
    app_server.env = env
    seed.create_schema(env, how="migrations")
    world = seed_world(
        env,
        businesses=args.businesses,
        partners_each=args.partners_each,
        customers_each=args.customers_each,
        seed=args.seed,
    )
    partnerships = sum(len(p) for p in world.partners.values()) // 2
    clock.say(
        f"seeded {len(world.members)} businesses, {partnerships} partnerships, "
        f"{sum(len(c) for c in world.customers.values()):,} customers"
    )

    recorder = Recorder()
    delivery = StripeDelivery(
        app_server.url + "/stripe/webhook", secret, recorder, seed=args.seed
    ).start()
    stack.callback(delivery.stop)
    # Connected accounts' events (onboarding, at the start) go straight to the
    # app's Connect endpoint; the platform's through the relay. Each endpoint
    # gets the events `referral stripe setup` registers it for, as in production.
    standin.send_webhooks_to(
        delivery.url,
        secret,
        connect_url=app_server.url + "/stripe/webhook/connect",
        connect_secret=connect_secret,
        events=webhooks.endpoint_events(),
    )
    app_server.start()
    stack.callback(app_server.stop)
    app_server.wait_ready()
    workers = JobWorkers(args.job_workers, env, work_dir, nice=args.job_nice).start()
    stack.callback(workers.stop)
    clock.say(
        f"gunicorn ({app_server.settings.describe()}) at {app_server.url}, "
        f"{args.job_workers} job workers"
    )
    connected = connect_payments(Http(app_server.url, None), world, database_url, timeout=180)
    clock.say(f"every business connected a Stripe account and saved a card ({connected:.1f} s)")

    stop = threading.Event()
    pacer = Pacer(args.rate) if args.rate > 0 else None
    scenario = Scenario(
        world,
        app_server.url,
        recorder,
        secrets.token_hex(3),
        stop,
        args.seed,
        args.settle_every,
        pacer=pacer,
    )
    users = scenario.threads(
        browsers=args.browsers, api_readers=args.api_readers, senders=args.senders
    )
    faults = None
    if args.faults:
        faults = Faults(
            workers=workers,
            standin=standin,
            cluster=cluster,
            recorder=recorder,
            restart_at=restart_moments(args) if cluster is not None else [],
            kill_every=args.kill_every,
            standin_error_rate=args.standin_error_rate,
            down_seconds=args.down_seconds,
            seed=args.seed,
        )
    # What the harness loaded to seed the world (the whole app) lives until it
    # exits: left out of its collections, as the workers leave theirs, and
    # before the clock starts. A full collection scanning it stopped every
    # client thread for 150-170 ms in 4 of 14 runs, and the requests due
    # meanwhile counted it as the app's latency.
    freeze_loaded_objects()
    load_before = os.getloadavg()
    began_utc, began = dt.datetime.now(dt.UTC), time.monotonic()
    if faults is not None:
        faults.start()
    if pacer is not None:
        pacer.start()
    collections = CollectorPauses().__enter__()
    watch = MachineWatch(database_url).start()
    access_log_began = _size(app_server.access_log)
    stack.callback(watch.stop)
    for user in users:
        user.start()
    clock.say(f"load: {len(users)} users for {args.duration:.0f} s")
    try:
        while (left := began + args.duration - time.monotonic()) > 0:
            time.sleep(min(30.0, left))
            outside, inside = recorder.counted_failures(args.fault_grace)
            clock.say(
                f"  {len(recorder.samples):,} requests, {len(scenario.referrals):,} referrals, "
                f"{len(delivery.events):,} webhooks, errors {len(outside)} "
                f"(+{len(inside)} in fault windows)"
            )
    finally:
        stop.set()
        for user in users:
            user.join(timeout=60)
        if faults is not None:
            faults.stop()
        collections.__exit__()
    ended_utc, ended = dt.datetime.now(dt.UTC), time.monotonic()
    watch.stop()
    served = server_times(app_server.access_log, access_log_began, _size(app_server.access_log))
    load_after = os.getloadavg()
    clock.say("load stopped; draining (late duplicate webhooks sent now)")

    delivery.replay_accepted(0.05)
    drained, pending = drain(database_url, delivery, standin, args.drain_timeout)
    drain_seconds = time.monotonic() - ended
    clock.say(f"drained in {drain_seconds:.1f} s" if drained else f"NOT drained: {pending}")
    verdict = verify(
        database_url=database_url,
        env=env,
        delivery=delivery,
        standin_deliveries=standin.deliveries(),
        standin_client=standin.client(),
        scenario=scenario,
        load_window=(began_utc, ended_utc),
    )
    if not drained:
        verdict.expect("everything settled within --drain-timeout", str(pending))
    if faults is not None:
        for error in faults.errors:
            verdict.expect("the faults ran", error)
    if not args.faults and workers.unexpected_exits:
        verdict.expect("no job worker exited", str(workers.unexpected_exits))
    outside, inside = recorder.counted_failures(args.fault_grace)
    return {
        "settings": {
            "database": where,
            "web": app_server.settings.describe(),
            "job workers": args.job_workers,
            "job workers' nice": args.job_nice,
            "job lease seconds": args.job_lease_seconds,
            "users": {
                "browsers": args.browsers,
                "api readers": args.api_readers,
                "senders": args.senders,
                "settle every s": args.settle_every,
                "offered req/s": args.rate or None,
            },
            "world": describe_world(world, partnerships),
            "duration s": args.duration,
            "faults": args.faults,
        },
        "load average before, after": [list(load_before), list(load_after)],
        "cpus": os.cpu_count(),
        "endpoints": [asdict(f) for f in recorder.figures(began, ended, args.fault_grace)],
        # The workers' own time per endpoint: what the client waited beyond it
        # was spent queueing for a worker (or in the network and the harness).
        "server ms": {
            label: {"p50": percentile(times, 0.50), "p99": percentile(times, 0.99)}
            for label, times in served.items()
        },
        # A new worker's first seconds, then the whole load in tenths.
        "first seconds": [asdict(w) for w in recorder.windows(began, began + 3, 1)],
        "over time": [
            asdict(w) for w in recorder.windows(began, ended, max(1, round(args.duration / 10)))
        ],
        "slowest seconds": [
            {**asdict(s), "machine": asdict(watch.second(began + s.second))}
            for s in recorder.slowest_seconds(began, ended)
        ],
        "machine": watch.summary(began, ended),
        "load generator's collections": {
            "count": len(collections.pauses_ms),
            "longest ms": round(max(collections.pauses_ms, default=0.0), 1),
            "over 50 ms": sum(pause > 50 for pause in collections.pauses_ms),
        },
        "seconds": ended - began,
        "errors": [f"{f.label}: {f.what}" for f in outside[:20]],
        "errors total": len(outside),
        "errors in fault windows": len(inside),
        "faults": fault_figures(faults, workers, recorder, began),
        "scenario": {
            "referrals driven": len(scenario.referrals),
            "idempotent re-sends": scenario.replays,
            "settle now presses": scenario.settle_presses,
        },
        "drain seconds": drain_seconds,
        "figures": verdict.figures,
        "checks": verdict.checks,
        "gunicorn tracebacks logged": app_server.log_path.read_text(errors="replace").count(
            "Traceback"
        ),
        "_verdict": verdict,
    }


def describe_world(world: World, partnerships: int) -> str:
    customers = sum(len(c) for c in world.customers.values())
    return (
        f"{len(world.members)} businesses, {partnerships} partnerships, {customers:,} customers, "
        "each with a connected account and a saved card"
    )


def fault_figures(
    faults: Faults | None, workers: JobWorkers, recorder: Recorder, began: float
) -> dict:
    if faults is None:
        return {}
    failures = [f.began for f in recorder.failures]
    restarts = []
    nexts = [start for start, _, _ in faults.log.restarts[1:]] + [float("inf")]
    for (start, back, mode), next_start in zip(faults.log.restarts, nexts, strict=True):
        late = [moment - back for moment in failures if back < moment < next_start - 1]
        during = sum(1 for moment in failures if start - 1 <= moment <= back)
        restarts.append(
            f"{mode} at {start - began:.0f} s, back after {back - start:.1f} s: {during} errors "
            f"while down, {len(late)} after it was back"
            + (f" (the last {max(late):.2f} s after)" if late else "")
        )
    return {
        "database restarts": restarts,
        "job workers killed": faults.log.kills,
        "killed with a job under way": faults.log.kills_mid_job,
        "job worker exits not ours (e.g. started while the database was down)": len(
            workers.unexpected_exits
        ),
        "stand-in API requests failed": f"{faults.log.standin_error_rate:.0%}",
    }


def drain(
    database_url: str, delivery: StripeDelivery, standin: StripeStandIn, timeout: float
) -> tuple[bool, dict[str, int]]:
    """Wait until nothing moves: no event in flight anywhere, no job due or
    running, no settlement unfinished, twice in a row half a second apart."""
    deadline = time.monotonic() + timeout
    quiet = 0
    pending: dict[str, int] = {}
    while time.monotonic() < deadline:
        pending = pending_work(database_url)
        pending["stand-in deliveries pending"] = sum(
            not d["delivered"] for d in standin.deliveries()
        )
        pending["relay busy"] = int(not delivery.idle())
        quiet = quiet + 1 if not any(pending.values()) else 0
        if quiet >= 2:
            return True, pending
        time.sleep(0.5)
    return False, pending


def _size(path: Path | None) -> int:
    return path.stat().st_size if path is not None and path.exists() else 0


def describe_second(machine: dict) -> str:
    cpu = ", ".join(f"{role} {share}%" for role, share in machine["cpu_percent"].items())
    line = (
        f"      CPU {cpu}; steal {machine['steal_percent']}%, I/O wait {machine['iowait_percent']}%"
    )
    for waiting, blocked_by, samples in machine["lock_waits"]:
        line += f"\n      lock: {samples}x {waiting!r} waited for {blocked_by!r}"
    if machine.get("busiest_others"):
        busiest = ", ".join(f"{name} {share}%" for name, share in machine["busiest_others"])
        line += f"\n      other processes: {busiest}"
    for statement, age in machine["long_transactions"]:
        line += f"\n      open {age:,.0f} ms: {statement!r}"
    return line


def print_report(report: dict, verdict: Verdict, args: argparse.Namespace) -> bool:
    settings = report["settings"]
    nice = settings.get("job workers' nice", 0)
    print(
        f"\nSoak on loopback: {report['seconds']:.0f} s of load, {settings['web']}, "
        f"{settings['job workers']} job worker(s) at nice {nice}, {settings['database']}"
    )
    print(f"  world: {settings['world']}")
    users = settings["users"]
    print(
        f"  users: {users['browsers']} browsing, {users['api readers']} reading the API, "
        f"{users['senders']} sending referrals, Settle now every {users['settle every s']:.0f} s"
    )
    offered = users.get("offered req/s")
    print(
        f"  offered: {offered:g} requests/s in all, each latency counted from when it was due"
        if offered
        else "  offered: as fast as answered (each user sends its next request at once)"
    )
    before, after = report["load average before, after"]
    print(
        f"  load average before {before[0]:.2f}, after {after[0]:.2f} "
        f"({report['cpus']} CPUs, shared with the load generator and other work)"
    )
    print(f"\n  {'endpoint':<40}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}"
          f"{'p99 ms':>8}{'errors':>8}{'in faults':>10}{'server p50':>11}{'p99':>6}")  # fmt: skip
    rows = [EndpointFigures(**row) for row in report["endpoints"]]
    server = report.get("server ms", {})
    for row in rows:
        own = server.get(row.label)
        print(
            f"  {row.label:<40}{row.requests:>9,}{row.per_second:>8.1f}{row.p50_ms:>8.1f}"
            f"{row.p95_ms:>8.1f}{row.p99_ms:>8.1f}{row.errors:>8}{row.errors_in_faults:>10}"
            + (f"{own['p50']:>11.1f}{own['p99']:>6.0f}" if own else "")
        )
    total = sum(r.requests for r in rows)
    print(
        f"  {'all':<40}{total:>9,}{total / report['seconds']:>8.1f}"
        f"{'':>24}{report['errors total']:>8}{report['errors in fault windows']:>10}"
    )
    for title, key in (("its first seconds", "first seconds"), ("over time", "over time")):
        if report.get(key):
            print(f"  the load {title} (median / p99 of the requests due in each):")
            print(
                "    "
                + ", ".join(
                    f"+{w['start']} s {w['median_ms']:,.0f}/{w['p99_ms']:,.0f} ms"
                    for w in report[key]
                )
            )
    if report.get("slowest seconds"):
        print("  slowest seconds of the load (the requests due in each):")
        for second in report["slowest seconds"]:
            print(
                f"    +{second['second']} s: {second['requests']} requests to "
                f"{second['endpoints']} endpoints, median {second['median_ms']:,.0f} ms, "
                f"max {second['max_ms']:,.0f} ms"
            )
            if "machine" in second:
                print(describe_second(second["machine"]))
    machine = report.get("machine")
    if machine:
        cpu = ", ".join(
            f"{role} {share}%" for role, share in machine["cpu percent of one CPU"].items()
        )
        print(
            f"  CPU over the load, % of one CPU: {cpu}; stolen by the host "
            f"{machine['steal percent']}%, I/O wait {machine['iowait percent']}%"
        )
        print(
            f"  database: {machine['lock waits seen']} lock waits and "
            f"{machine['transactions over 100 ms seen']} transactions over 100 ms seen "
            f"in {machine['samples']} samples"
        )
        for wait in machine["commonest lock waits"]:
            print(f"    {wait['samples']}x {wait['waiting']!r} waited for {wait['blocked by']!r}")
    collected = report.get("load generator's collections")
    if collected:
        print(
            f"  the load generator's own garbage collections: {collected['count']:,}, "
            f"longest {collected['longest ms']:,.0f} ms, {collected['over 50 ms']} over 50 ms"
        )
    if report["faults"]:
        print("\n  faults:")
        for key, value in report["faults"].items():
            print(f"    {key}: {value}")
    print("\n  scenario: " + ", ".join(f"{k} {v:,}" for k, v in report["scenario"].items()))
    print(f"  drained in {report['drain seconds']:.1f} s after the load")
    for key, value in report["figures"].items():
        print(f"  {key}: {value}")
    print(f"  gunicorn tracebacks logged: {report['gunicorn tracebacks logged']}")
    print("\n  checks:")
    for check, problem in verdict.checks:
        print(f"    {'FAIL' if problem else 'ok  '} {check}" + (f": {problem}" if problem else ""))
    passed = not verdict.problems and report["errors total"] == 0
    print(f"    {'FAIL' if report['errors total'] else 'ok  '} no error outside fault windows")
    for error in report["errors"][:10]:
        print(f"         {error[:200]}")
    print(f"\n  {'PASS' if passed else 'FAIL'}")
    return passed


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    clock = Clock()
    try:
        with tempfile.TemporaryDirectory(prefix="referral-soak-") as tmp, ExitStack() as stack:
            report = run(args, clock, Path(tmp), stack)
            clock.say("stopping")
    except (SetupFailed, ServerFailed) as failure:
        print(f"\n{failure}", file=sys.stderr)
        return 2
    verdict: Verdict = report.pop("_verdict")
    passed = print_report(report, verdict, args)
    if not args.no_save:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        path = RESULTS_DIR / f"soak-{stamp}.json"
        report["commit"] = git_commit()
        path.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"  written to {path.relative_to(ROOT)}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
