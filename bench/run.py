"""Throughput and memory of Referral against a bare Flask app, in the same run.

    .venv/bin/python bench/run.py                      # PostgreSQL (test_bench)
    .venv/bin/python bench/run.py --db sqlite --duration 5

Both apps run under gunicorn with the same settings (2 sync workers, the
production default for short CPU-bound requests) on loopback, and the same
load generator drives each endpoint for the same time: `wrk` when installed,
otherwise a Python keep-alive client. Figures are printed as ratios to the
bare app; targets: GET /api/v1/me with an API key >= 50%, the logged-in home
page >= 30%. Worker memory (RSS) is compared the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test_bench"
TARGETS = {"GET /api/v1/me": 0.50, "GET / (logged in)": 0.30}


@dataclass
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """One app under gunicorn, stopped on exit."""

    def __init__(self, app: str, env: dict[str, str], workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                app,
            ],
            cwd=ROOT,
            env={**os.environ, **env},
        )

    def __enter__(self) -> Gunicorn:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/healthz-not-there", timeout=1)
            except urllib.error.HTTPError:
                return self  # answering
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn for {self.url} did not start")

    def worker_rss_kib(self) -> list[int]:
        children = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout.split()
        sizes = []
        for pid in children:
            status = Path(f"/proc/{pid}/status").read_text()
            sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)))  # type: ignore[union-attr]
        return sizes

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def check(url: str, headers: dict[str, str]) -> None:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")


def run_wrk(url: str, headers: dict[str, str], seconds: int, connections: int) -> Load:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    output = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout

    def latency(label: str) -> float:
        match = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", output)
        assert match, output
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = sum(
        int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|errors): .*?(\d+)", output)
    )
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return Load(rps, latency("50"), latency("99"), errors)


def run_python_client(url: str, headers: dict[str, str], seconds: int, connections: int) -> Load:
    """Keep-alive HTTP clients in threads: slower than wrk, same for both apps."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    path = "/" + url.split("//")[1].split("/", 1)[1] if "/" in url.split("//")[1] else "/"
    timings: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        nonlocal errors
        connection = HTTPConnection(host, int(port), timeout=10)
        mine, failed = [], 0
        while time.monotonic() < stop_at:
            start = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status >= 400:
                    failed += 1
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except OSError:
                failed += 1
                connection.close()
            mine.append((time.perf_counter() - start) * 1000)
        with lock:
            timings.extend(mine)
            errors += failed

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = sorted(timings)
    return Load(
        len(ordered) / seconds,
        statistics.median(ordered),
        ordered[int(0.99 * (len(ordered) - 1))],
        errors,
    )


def prepare_referral(
    database_url: str, env: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Migrate, then make a business with an owner, a login and an API key.
    Returns (API headers, page headers)."""
    subprocess.run(
        [str(BIN / "referral"), "db", "upgrade"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    sys.path.insert(0, str(ROOT))
    from referral import create_app
    from referral.apikeys.models import ApiKey
    from referral.auth.models import LoginSession, User
    from referral.auth.passwords import hash_password
    from referral.auth.tokens import hash_token, new_token
    from referral.businesses.services import create_business
    from referral.config import Config
    from referral.db import transaction, utcnow

    app = create_app(Config({**os.environ, **env}))
    api_key = f"rk_live_bench000_{secrets.token_urlsafe(24)}"
    login_token, login_hash = new_token()
    with app.app_context(), transaction() as session:
        business = create_business(
            session=session, name="Bench HVAC", trade="hvac", zip_code="78701", radius_miles=25
        )
        user = User(
            business_id=business.id,
            email=f"bench-{secrets.token_hex(4)}@example.com",
            name="Bench Owner",
            role="owner",
            password_hash=hash_password("bench password"),
            email_verified_at=utcnow(),
        )
        session.add(user)
        session.flush()
        session.add(
            ApiKey(
                business_id=business.id,
                created_by_id=user.id,
                name="bench",
                prefix="rk_live_bench000",
                key_hash=hash_token(api_key),
            )
        )
        session.add(
            LoginSession(
                user_id=user.id,
                token_hash=login_hash,
                expires_at=utcnow().replace(year=utcnow().year + 1),
            )
        )
    with app.test_request_context():
        cookie = app.session_interface.get_signing_serializer(app).dumps({"sid": login_token})
    app.extensions["db_engine"].dispose()
    return (
        {"Authorization": f"Bearer {api_key}"},
        {"Cookie": f"{app.config['SESSION_COOKIE_NAME']}={cookie}"},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint and app")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    use_wrk = shutil.which("wrk") is not None
    load = run_wrk if use_wrk else run_python_client
    with tempfile.TemporaryDirectory() as tmp:
        if args.db == "sqlite":
            database_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        else:
            database_url = args.pg_url
            from sqlalchemy import create_engine, text

            engine = create_engine(database_url)
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            engine.dispose()
        env = {
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_hex(32),
            "MAIL_BACKEND": "outbox",
            "LOG_LEVEL": "WARNING",
        }
        api_headers, page_headers = prepare_referral(database_url, env)
        endpoints = [
            ("GET /api/v1/me", "/api/v1/me", api_headers),
            ("GET / (logged in)", "/", page_headers),
        ]
        results: dict[str, dict[str, Load]] = {}
        rss: dict[str, list[int]] = {}
        for name, app_spec, app_env in (
            ("referral", "referral:create_app()", env),
            ("bare", "bench.bare_app:create_app()", {}),
        ):
            with Gunicorn(app_spec, app_env, args.workers) as server:
                for label, path, headers in endpoints:
                    check(server.url + path, headers)
                    load(server.url + path, headers, 2, args.connections)  # warm up
                    results.setdefault(label, {})[name] = load(
                        server.url + path, headers, args.duration, args.connections
                    )
                rss[name] = server.worker_rss_kib()

    print(
        f"load generator: {'wrk' if use_wrk else 'python keep-alive client'}; "
        f"{args.workers} gunicorn sync workers each; {args.connections} connections; "
        f"{args.duration} s per run; database: {args.db}"
    )
    print(
        f"{'endpoint':<20}{'app req/s':>11}{'bare req/s':>12}{'ratio':>8}{'target':>8}"
        f"{'app p50':>9}{'app p99':>9}{'bare p99':>9}{'p99 ratio':>10}  result"
    )
    failed = False
    for label, pair in results.items():
        app_load, bare = pair["referral"], pair["bare"]
        ratio = app_load.requests_per_second / bare.requests_per_second
        ok = ratio >= TARGETS[label] and app_load.errors == 0
        failed |= not ok
        print(
            f"{label:<20}{app_load.requests_per_second:>11.0f}{bare.requests_per_second:>12.0f}"
            f"{ratio:>7.0%}{TARGETS[label]:>8.0%}{app_load.p50_ms:>8.1f}ms{app_load.p99_ms:>7.1f}ms"
            f"{bare.p99_ms:>7.1f}ms{app_load.p99_ms / bare.p99_ms:>9.1f}x  "
            f"{'PASS' if ok else 'FAIL'}{f' ({app_load.errors} errors)' if app_load.errors else ''}"
        )
    app_rss, bare_rss = statistics.mean(rss["referral"]), statistics.mean(rss["bare"])
    print(
        f"{'worker RSS':<20}{app_rss / 1024:>10.1f}M{bare_rss / 1024:>11.1f}M"
        f"{app_rss / bare_rss:>7.1f}x"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"run-{stamp}.json").write_text(
        json.dumps(
            {
                "args": vars(args),
                "generator": "wrk" if use_wrk else "python",
                "results": {k: {n: asdict(v) for n, v in p.items()} for k, p in results.items()},
                "worker_rss_kib": rss,
            },
            indent=2,
        )
    )
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
