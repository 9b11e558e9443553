"""Throughput, latency and worker memory of Referral as ratios to a bare Flask app.

    .venv/bin/python bench/run.py                       # PostgreSQL database test_bench
    .venv/bin/python bench/run.py --db sqlite           # the embedded default
    .venv/bin/python bench/run.py --strict              # exit 1 when a target is missed

Both apps run under gunicorn with the same settings, in the same run, on
loopback; each endpoint is measured on both in alternating rounds, so load from
other processes falls on both alike. Targets (ratios, never absolute figures):
GET /api/v1/me with an API key >= 50% of the bare app's throughput, the
signed-in home page >= 30%, POST /api/v1/referrals (`--endpoints referral_post`,
a new referral with each request) >= 25%. Against the bare app sending the same
SQL through the driver alone (`--baseline bare-sql`, issue 23): /api/v1/me >=
70%, / >= 75%, /healthz >= 80%, POST /api/v1/referrals >= 60%. See bench/README.md.

    .venv/bin/python bench/run.py --baseline bare-sql --endpoints referral_post
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import seed  # noqa: E402
from bench.checks import CheckFailed, Endpoint, check_endpoint  # noqa: E402
from bench.load import Generator, Load, LoadFailed, choose_generator  # noqa: E402
from bench.posts import ReferralPosts  # noqa: E402
from bench.seed import SetupFailed  # noqa: E402
from bench.servers import GunicornServer, ServerFailed, WorkerSettings  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"

# The app each run compares Referral with (as "bare" in the report).
BASELINES = {
    "bare": "bench.bare_app:create_app()",
    "bare-sql": "bench.bare_sql_app:create_app()",
}

ENDPOINTS = {
    "me": Endpoint("GET /api/v1/me (API key)", "/api/v1/me", "me", target=0.50, sql_target=0.70),
    "home": Endpoint("GET / (signed in)", "/", "page", target=0.30, sql_target=0.75),
    "healthz": Endpoint("GET /healthz", "/healthz", "health", target=None, sql_target=0.80),
    "referral_post": Endpoint(
        "POST /api/v1/referrals (new)",
        "/api/v1/referrals",
        "referral",
        target=0.25,
        sql_target=0.60,
        method="POST",
        status=201,
    ),
}


@dataclass
class EndpointResult:
    """One endpoint measured on both apps over the same rounds."""

    endpoint: Endpoint
    app_rounds: list[Load] = field(default_factory=list)
    bare_rounds: list[Load] = field(default_factory=list)
    app_bytes: int = 0
    bare_bytes: int = 0
    # Answered requests that wrote nothing (a POST that must create a row each time).
    not_written: int = 0

    @staticmethod
    def _rps(rounds: list[Load]) -> float:
        seconds = sum(r.seconds for r in rounds)
        return sum(r.requests for r in rounds) / seconds if seconds else 0.0

    @property
    def app_rps(self) -> float:
        return self._rps(self.app_rounds)

    @property
    def bare_rps(self) -> float:
        return self._rps(self.bare_rounds)

    @property
    def ratio(self) -> float:
        return self.app_rps / self.bare_rps if self.bare_rps else 0.0

    @property
    def round_ratios(self) -> list[float]:
        return [
            a.requests_per_second / b.requests_per_second
            for a, b in zip(self.app_rounds, self.bare_rounds, strict=True)
            if b.requests_per_second
        ]

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.app_rounds + self.bare_rounds) + self.not_written

    @property
    def passed(self) -> bool | None:
        """None when the endpoint has no target."""
        if self.endpoint.target is None:
            return None
        return self.errors == 0 and self.ratio >= self.endpoint.target

    def latency(self, which: str) -> tuple[float, float]:
        """(p50, p99) in ms: the median over rounds of each round's percentile."""
        rounds = self.app_rounds if which == "app" else self.bare_rounds
        return (
            statistics.median(r.p50_ms for r in rounds),
            statistics.median(r.p99_ms for r in rounds),
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.endpoint.path,
            "target": self.endpoint.target,
            "passed": self.passed,
            "ratio": round(self.ratio, 4),
            "round_ratios": [round(r, 4) for r in self.round_ratios],
            "app": self._side("app", self.app_rps, self.app_bytes, self.app_rounds),
            "bare": self._side("bare", self.bare_rps, self.bare_bytes, self.bare_rounds),
        }

    def _side(self, which: str, rps: float, body: int, rounds: list[Load]) -> dict[str, object]:
        p50, p99 = self.latency(which)
        return {
            "requests_per_second": round(rps, 1),
            "p50_ms": round(p50, 3),
            "p99_ms": round(p99, 3),
            "body_bytes": body,
            "rounds": [asdict(r) for r in rounds],
        }


@dataclass(frozen=True)
class RunContext:
    """How and where a run was made, printed above the figures and kept beside them."""

    started_at: str
    commit: str | None
    generator: str
    generator_name: str
    connections: int
    gunicorn: str
    database: str
    schema: str
    seconds_per_endpoint: float
    rounds: int
    baseline: str
    loadavg_start: str
    loadavg_end: str
    cpus: int
    python: str


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Referral against a bare Flask app: throughput, latency, worker memory."
    )
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument(
        "--pg-url",
        default=seed.DEFAULT_PG_URL,
        help="PostgreSQL URL; its database is DROPPED and created again (default: %(default)s)",
    )
    parser.add_argument(
        "--schema",
        choices=["migrations", "create_all"],
        default="migrations",
        help="`referral db upgrade` (default) or the models' create_all, when migrations lag",
    )
    parser.add_argument(
        "--endpoints",
        default="me,home",
        help=f"comma-separated, from {','.join(ENDPOINTS)} (default: %(default)s)",
    )
    parser.add_argument(
        "--duration", type=float, default=10, help="seconds per endpoint per app (default 10)"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating app/bare slices of the duration"
    )
    parser.add_argument("--warmup", type=float, default=1, help="seconds per endpoint per app")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app")
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--customers",
        type=int,
        default=5000,
        help="referral_post: customers to refer, each once to each partner (default 5000)",
    )
    parser.add_argument(
        "--partners", type=int, default=10, help="referral_post: active partners (default 10)"
    )
    parser.add_argument(
        "--baseline",
        choices=list(BASELINES),
        default="bare",
        help="bare: no database; bare-sql: the same statements through the driver alone,"
        " what Referral's own machinery costs (issue 23's targets)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    args = parser.parse_args(argv)
    unknown = set(args.endpoints.split(",")) - set(ENDPOINTS)
    if unknown:
        parser.error(f"unknown endpoint(s): {', '.join(sorted(unknown))}")
    if args.rounds < 1 or args.duration <= 0 or args.connections < 1 or args.workers < 1:
        parser.error("--rounds, --duration, --connections and --workers must be positive")
    return args


def slice_seconds(args: argparse.Namespace, generator: Generator) -> float:
    seconds = args.duration / args.rounds
    if generator.whole_seconds:
        seconds = max(1, round(seconds))
    return seconds


def measure(
    endpoint: Endpoint,
    servers: dict[str, GunicornServer],
    headers: dict[str, str],
    *,
    generator: Generator,
    args: argparse.Namespace,
    streams: dict[str, ReferralPosts] | None = None,
) -> EndpointResult:
    """Warm both apps up, then alternate them round by round (who goes first
    alternates too), so drift and other load fall on both alike. With
    `streams` (one per app) every request is a different POST."""
    result = EndpointResult(endpoint)
    seconds = slice_seconds(args, generator)

    def run(name: str, duration: float) -> Load:
        stream = streams[name] if streams else None
        load = generator.run(
            servers[name].url + endpoint.path, headers, duration, args.connections, stream=stream
        )
        if stream is not None and stream.next_number > stream.capacity:
            raise LoadFailed(
                f"{endpoint.label}: the {name} app got more requests than there are "
                f"customer-partner pairs ({stream.capacity}); raise --customers"
            )
        return load

    for name in servers:
        if args.warmup > 0:
            run(name, args.warmup)
    for round_number in range(args.rounds):
        order = ("app", "bare") if round_number % 2 == 0 else ("bare", "app")
        for name in order:
            load = run(name, seconds)
            (result.app_rounds if name == "app" else result.bare_rounds).append(load)
    return result


def git_commit() -> str | None:
    completed = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return completed.stdout.strip() or None


def print_report(
    results: list[EndpointResult],
    rss: dict[str, list[int]],
    context: RunContext,
) -> None:
    print()
    against = {"bare": "bare Flask", "bare-sql": "bare Flask + the same SQL"}[context.baseline]
    print(f"Referral vs {against}, same run ({context.started_at}, commit {context.commit})")
    print(
        f"  gunicorn {context.gunicorn}; load: {context.generator}, "
        f"{context.connections} connections; database: {context.database}"
    )
    print(
        f"  {context.seconds_per_endpoint:g} s per endpoint per app in {context.rounds} "
        f"alternating rounds; load average {context.loadavg_start} -> "
        f"{context.loadavg_end} on {context.cpus} CPUs"
    )
    # Only the load before the run tells of other work: the run itself adds ~3.
    before = float(context.loadavg_start.split()[0])
    if before > context.cpus / 2:
        print(
            f"  warning: the machine was busy before the run (load average {before:.1f} on "
            f"{context.cpus} CPUs): figures are noisy; compare the round ratios"
        )
    print()
    width = max(len(r.endpoint.label) for r in results) + 2
    print(
        f"{'endpoint':<{width}}{'app req/s':>10}{'bare req/s':>11}{'ratio':>7}"
        f"{'per round':>13}{'target':>8}  result"
    )
    for r in results:
        if r.not_written:
            print(f"  {r.endpoint.label}: {r.not_written} answered requests wrote nothing")
        spread = f"{min(r.round_ratios):.0%}-{max(r.round_ratios):.0%}" if r.round_ratios else "-"
        target = f"{r.endpoint.target:.0%}" if r.endpoint.target is not None else "-"
        verdict = {True: "PASS", False: "FAIL", None: "-"}[r.passed]
        if r.errors:
            verdict += f" ({r.errors} errors)"
        print(
            f"{r.endpoint.label:<{width}}{r.app_rps:>10.0f}{r.bare_rps:>11.0f}{r.ratio:>7.0%}"
            f"{spread:>13}{target:>8}  {verdict}"
        )
    print()
    print(
        f"{'latency, ms':<{width}}{'app p50':>10}{'app p99':>9}{'bare p50':>10}{'bare p99':>10}"
        f"{'body bytes app/bare':>22}"
    )
    for r in results:
        (a50, a99), (b50, b99) = r.latency("app"), r.latency("bare")
        print(
            f"{r.endpoint.label:<{width}}{a50:>10.1f}{a99:>9.1f}{b50:>10.1f}{b99:>10.1f}"
            f"{f'{r.app_bytes}/{r.bare_bytes}':>22}"
        )
    print()
    app_rss, bare_rss = statistics.mean(rss["app"]), statistics.mean(rss["bare"])
    print(f"{'worker RSS, MiB':<{width}}{'app':>10}{'bare':>11}{'ratio':>7}")
    label = f"mean of {len(rss['app'])} workers"
    print(
        f"{label:<{width}}{app_rss / 1024:>10.1f}"
        f"{bare_rss / 1024:>11.1f}{app_rss / bare_rss:>6.2f}x"
    )


def save(report: dict[str, object], kind: str = "run") -> Path:
    """bench/results/<kind>-<UTC time>.json (webhooks.py saves its own kind here too)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    path = RESULTS_DIR / f"{kind}-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def progress(message: str, *, since: float) -> None:
    print(f"[{time.monotonic() - since:5.1f} s] {message}", file=sys.stderr, flush=True)


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Requests:
    """What each kind of endpoint sends (the same to both apps), and body sizes seen."""

    credentials: seed.Credentials
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    # referral_post: each app's own numbering of new referrals
    streams: dict[str, ReferralPosts] = field(default_factory=dict)

    def headers(self, endpoint: Endpoint) -> dict[str, str]:
        if endpoint.kind in ("me", "referral"):
            return self.credentials.api_headers()
        if endpoint.kind == "page":
            return self.credentials.page_headers()
        return {}


def check_all(
    endpoints: list[Endpoint], servers: dict[str, GunicornServer], requests: Requests
) -> list[str]:
    """Fetch each endpoint from each app once; return what is wrong (nothing, if all is well).

    The signed-in page sets a new session cookie (permanent, with the CSRF
    token added); as a browser would, the cookie it set is the one sent after.
    """
    problems = []
    cookie_name = requests.credentials.cookie_name
    for endpoint in endpoints:
        for name, server in servers.items():
            try:
                probe = check_endpoint(
                    server,
                    endpoint,
                    requests.headers(endpoint),
                    cookie_name=cookie_name,
                    stream=requests.streams.get(name) if endpoint.kind == "referral" else None,
                )
                if endpoint.kind == "page" and name == "app" and probe.new_cookie:
                    requests.credentials = requests.credentials.with_cookie(probe.new_cookie)
                    probe = check_endpoint(
                        server, endpoint, requests.headers(endpoint), cookie_name=cookie_name
                    )
            except CheckFailed as failure:
                problems.append(str(failure))
                continue
            requests.sizes.setdefault(endpoint.path, {})[name] = len(probe.body)
    return problems


def run_benchmark(
    args: argparse.Namespace, generator: Generator, work_dir: Path, clock: float
) -> tuple[list[EndpointResult], dict[str, list[int]]]:
    """Prepare the database, start both apps, check, then measure every endpoint."""
    endpoints = [ENDPOINTS[name] for name in args.endpoints.split(",")]
    if args.baseline == "bare-sql":  # its own targets
        endpoints = [replace(endpoint, target=endpoint.sql_target) for endpoint in endpoints]
    settings = WorkerSettings(args.workers, args.worker_class, args.threads)
    database_url = seed.fresh_database(args.db, pg_url=args.pg_url, work_dir=work_dir)
    env = seed.referral_env(database_url)
    seed.create_schema(env, how=args.schema)
    requests = Requests(seed.seed_business(env))
    if any(endpoint.kind == "referral" for endpoint in endpoints):
        partners = seed.seed_partners(env, partners=args.partners, customers=args.customers)
        if args.baseline == "bare-sql":
            # Both write to the one database: customers and keys of their own.
            requests.streams = {
                "app": ReferralPosts(partners.partner_ids, partners.customer_ids[::2], "app-"),
                "bare": ReferralPosts(partners.partner_ids, partners.customer_ids[1::2], "bare-"),
            }
        else:
            requests.streams = {
                name: ReferralPosts(partners.partner_ids, partners.customer_ids)
                for name in ("app", "bare")
            }
        progress(
            f"{args.partners} active partners and {args.customers} customers seeded", since=clock
        )
    progress(f"{args.db} database ready ({args.schema}), business seeded", since=clock)
    servers = {
        "app": GunicornServer(
            "referral", "referral:create_app()", env=env, settings=settings, work_dir=work_dir
        ),
        "bare": GunicornServer(
            args.baseline,
            BASELINES[args.baseline],
            env={
                "BENCH_DATABASE_URL": database_url,
                "SECRET_KEY": env["SECRET_KEY"],
                "BENCH_SESSION_COOKIE": requests.credentials.cookie_name,
            }
            if args.baseline == "bare-sql"
            else {},
            settings=settings,
            work_dir=work_dir,
        ),
    }
    try:
        for server in servers.values():
            server.start()
        for server in servers.values():
            server.wait_ready()
        progress(f"both apps up under gunicorn, {settings.describe()} each", since=clock)
        problems = check_all(endpoints, servers, requests)
        if problems:
            raise CheckFailed(
                "Not measured: an endpoint did not answer as expected.\n"
                + "\n".join(f"- {problem}" for problem in problems)
            )
        results = []
        for endpoint in endpoints:
            progress(f"measuring {endpoint.label}", since=clock)
            referrals_before = seed.count_referrals(database_url)
            result = measure(
                endpoint,
                servers,
                requests.headers(endpoint),
                generator=generator,
                args=args,
                streams=requests.streams if endpoint.kind == "referral" else None,
            )
            if endpoint.kind == "referral":
                # Each answered request must have written its own referral
                # (warm-up requests write some more, never fewer).
                written = seed.count_referrals(database_url) - referrals_before
                answered = sum(r.requests for r in result.app_rounds)
                if args.baseline == "bare-sql":  # the baseline writes its own
                    answered += sum(r.requests for r in result.bare_rounds)
                result.not_written = max(0, answered - written)
                progress(f"{written} referrals written, {answered} answered", since=clock)
            result.app_bytes = requests.sizes[endpoint.path]["app"]
            result.bare_bytes = requests.sizes[endpoint.path]["bare"]
            results.append(result)
        rss = {name: server.worker_rss_kib() for name, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
    progress("done", since=clock)
    return results, rss


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when measured; 1 with --strict when a target is missed; 2 when
    nothing could be measured (setup, server or endpoint check failed)."""
    args = parse_args(argv)
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    loadavg_start = loadavg()
    clock = time.monotonic()
    try:
        generator = choose_generator(args.generator, wrk_threads=args.wrk_threads)
        progress(f"load generator: {generator.description}", since=clock)
        with tempfile.TemporaryDirectory(prefix="referral-bench-") as tmp:
            results, rss = run_benchmark(args, generator, Path(tmp), clock)
    except (SetupFailed, ServerFailed, CheckFailed, LoadFailed) as failure:
        print(f"\n{failure}", file=sys.stderr)
        return 2

    context = RunContext(
        started_at=started_at.isoformat(),
        commit=git_commit(),
        generator=generator.description,
        generator_name=generator.name,
        connections=args.connections,
        gunicorn=WorkerSettings(args.workers, args.worker_class, args.threads).describe(),
        database=args.db,
        schema=args.schema,
        seconds_per_endpoint=slice_seconds(args, generator) * args.rounds,
        rounds=args.rounds,
        baseline=args.baseline,
        loadavg_start=loadavg_start,
        loadavg_end=loadavg(),
        cpus=os.cpu_count() or 1,
        python=platform.python_version(),
    )
    print_report(results, rss, context)
    report = {
        "context": asdict(context),
        "args": vars(args),
        "endpoints": {r.endpoint.label: r.as_dict() for r in results},
        "worker_rss_kib": rss,
        "worker_rss_ratio": round(statistics.mean(rss["app"]) / statistics.mean(rss["bare"]), 3),
    }
    if not args.no_save:
        print(f"\nresults: {save(report).relative_to(ROOT)}")
    missed = [r.endpoint.label for r in results if r.passed is False]
    if missed:
        print(f"missed target: {', '.join(missed)}" + ("" if args.strict else " (not --strict)"))
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
