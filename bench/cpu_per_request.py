"""Where a request's time goes: CPU per request of Referral and of the bare app
sending the same SQL, each called in process through WSGI (no server, no
network, no load generator), and optionally a cProfile of Referral's.

    .venv/bin/python bench/cpu_per_request.py                       # every endpoint, PostgreSQL
    .venv/bin/python bench/cpu_per_request.py --endpoints me --cprofile 25
    PROFILE_OUT=/tmp/p .venv/bin/python bench/cpu_per_request.py --endpoints home --cprofile 1
        # then pstats.Stats("/tmp/p.home").print_callers(...) / print_callees(...)

Webhook intake (`--endpoints webhook`, Stripe's customer.created padded to
6.3 kB, signed when sent) is measured against `bare_sql_webhook.py`; the
other endpoints against `bare_sql_app.py`.

Each request's WSGI environ is built before the clock starts; the clock is
this process's CPU time (`time.process_time`), so PostgreSQL's own work is
not counted, only what each app spends in Python and in the driver. It is the
figure that the throughput ratios of `run.py` depend on, without a server's
or the load generator's share of the two CPUs.
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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werkzeug.test import EnvironBuilder  # noqa: E402

from bench import seed  # noqa: E402
from bench.posts import ReferralPosts  # noqa: E402
from bench.webhooks import PADDED_EVENT_BYTES, SignedEvents  # noqa: E402

ENDPOINTS = ("me", "home", "healthz", "referral_post", "webhook")
WEBHOOK_SECRET = "whsec_bench_cpu_per_request"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--requests", type=int, default=2000, help="per endpoint per app")
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--pg-url", default=seed.DEFAULT_PG_URL)
    parser.add_argument("--slices", type=int, default=10, help="alternating slices per app")
    parser.add_argument(
        "--cprofile", type=int, default=0, metavar="N", help="print Referral's N costliest calls"
    )
    return parser.parse_args(argv)


def environs(
    endpoint: str, credentials: seed.Credentials, posts: ReferralPosts | SignedEvents | None
) -> Iterator[dict[str, Any]]:
    """An endless stream of WSGI environs for one app's requests to `endpoint`."""
    number = 0
    while True:
        if endpoint == "me":
            builder = EnvironBuilder("/api/v1/me", headers=credentials.api_headers())
        elif endpoint == "home":
            builder = EnvironBuilder("/", headers=credentials.page_headers())
        elif endpoint == "healthz":
            builder = EnvironBuilder("/healthz")
        elif endpoint == "webhook":  # Stripe's customer.created, 6.3 kB, signed when sent
            assert isinstance(posts, SignedEvents)
            headers, body = posts.request(number)
            builder = EnvironBuilder("/stripe/webhook", method="POST", headers=headers, data=body)
        else:
            assert isinstance(posts, ReferralPosts)
            headers, body = posts.request(number)
            builder = EnvironBuilder(
                "/api/v1/referrals",
                method="POST",
                headers={**headers, **credentials.api_headers()},
                data=body,
            )
        number += 1
        yield builder.get_environ()


def call(app: Callable[..., Any], environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        answer["status"], answer["headers"] = status, headers

    body = app(environ, start_response)
    try:
        for _chunk in body:
            pass
    finally:
        getattr(body, "close", lambda: None)()
    return answer["status"], answer["headers"]


def warm(app: Callable[..., Any], stream: Iterator[dict[str, Any]]) -> None:
    """The first requests load what later ones reuse; any answer but 2xx stops the run."""
    for _ in range(50):
        status, _headers = call(app, next(stream))
        if not status.startswith("2"):
            raise SystemExit(f"warm-up answered {status}")


def chunk_ms(app: Callable[..., Any], stream: Iterator[dict[str, Any]], count: int) -> float:
    """CPU milliseconds per request over `count` requests."""
    environ_list = [next(stream) for _ in range(count)]
    started = time.process_time()
    for environ in environ_list:
        call(app, environ)
    return (time.process_time() - started) * 1000 / count


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    endpoints = args.endpoints.split(",")
    with tempfile.TemporaryDirectory() as work_dir:
        database_url = seed.fresh_database(args.db, pg_url=args.pg_url, work_dir=Path(work_dir))
        env = seed.referral_env(database_url)
        seed.create_schema(env, how="migrations")
        credentials = seed.seed_business(env)
        partners = seed.seed_partners(env, partners=10, customers=2 * (args.requests + 200))
        os.environ.update(env)
        os.environ.update(
            BENCH_DATABASE_URL=database_url,
            BENCH_SESSION_COOKIE=credentials.cookie_name,
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        )
        from bench import bare_sql_app, bare_sql_webhook
        from referral import create_app

        referral_app = create_app()
        bare_apps = {"webhook": bare_sql_webhook.create_app()}  # else bare_sql_app
        bare_app = bare_sql_app.create_app()
        posts = {
            "app": ReferralPosts(partners.partner_ids, partners.customer_ids[::2], "app-"),
            "bare": ReferralPosts(partners.partner_ids, partners.customer_ids[1::2], "bare-"),
        }
        events = {
            name: SignedEvents(WEBHOOK_SECRET, name, Path(work_dir), 0, PADDED_EVENT_BYTES)
            for name in ("app", "bare")
        }
        apps = {"app": referral_app, "bare": bare_app}
        # The home page's first answer adds the CSRF token to the session cookie.
        status, headers = call(apps["app"], next(environs("home", credentials, None)))
        for name, value in headers:
            if name.lower() == "set-cookie" and value.startswith(credentials.cookie_name + "="):
                credentials = credentials.with_cookie(value.split(";")[0].split("=", 1)[1])
        print(f"CPU ms per request in process, {args.requests} requests, {args.db}")
        print(f"{'endpoint':16} {'Referral':>9} {'bare+SQL':>9} {'ratio':>6}   (medians of slices)")
        for endpoint in endpoints:
            apps = {"app": referral_app, "bare": bare_apps.get(endpoint, bare_app)}
            streams = events if endpoint == "webhook" else posts
            # One stream per app and endpoint: a referral's Idempotency-Key is used once.
            requests = {name: environs(endpoint, credentials, streams[name]) for name in apps}
            for name, app in apps.items():
                warm(app, requests[name])
            # Alternating slices, the median of each app's: the host's speed
            # drifts, and a slice of each sees the same drift.
            slices: dict[str, list[float]] = {name: [] for name in apps}
            for _ in range(args.slices):
                for name, app in apps.items():
                    slices[name].append(
                        chunk_ms(app, requests[name], max(1, args.requests // args.slices))
                    )
            figures = {name: statistics.median(values) for name, values in slices.items()}
            ratios = sorted(b / a for a, b in zip(slices["app"], slices["bare"], strict=True))
            print(
                f"{endpoint:16} {figures['app']:9.3f} {figures['bare']:9.3f} "
                f"{figures['bare'] / figures['app']:6.0%}   slices {ratios[0]:.0%}-{ratios[-1]:.0%}"
            )
            if args.cprofile:
                environ_list = [next(requests["app"]) for _ in range(args.requests)]
                profiler = cProfile.Profile(time.process_time)  # CPU, as measured above
                profiler.enable()
                for environ in environ_list:
                    call(apps["app"], environ)
                profiler.disable()
                if os.environ.get("PROFILE_OUT"):  # for pstats' callers/callees afterwards
                    profiler.dump_stats(f"{os.environ['PROFILE_OUT']}.{endpoint}")
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out).sort_stats(
                    os.environ.get("SORT", "tottime")
                )
                stats.print_stats(args.cprofile)
                print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
