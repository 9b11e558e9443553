"""The release smoke: build the sdist and wheel, install the wheel into a fresh
virtual environment outside the checkout, and run the production shape from it.

    python devtools/wheel_smoke.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test_wheel

From the installed wheel only (the checkout is not on the path and is not the
working directory): `referral db upgrade`, then two gunicorn web nodes and two
`referral worker` processes on that PostgreSQL database, sharing one Redis for
rate limits (the `redis` extra). Through HTTP it signs up a business on node 1,
waits for a worker to deliver the verification email, follows its link on node
2 (which signs in), sees the home page on node 1 (one SECRET_KEY, any node),
creates an API key and reads the business through the API, and shows that a
login limit reached through node 1 holds on node 2. It also proves an unwritable INSTANCE_PATH is
refused by name. Exits 1 with the failing step and the processes' log tails.

The database is dropped and recreated empty (schema `public`): give it one of
its own. Standard library only; the venv is installed from the lock files in
requirements/ with hashes, so pip's cache makes a rerun quick.
"""

from __future__ import annotations

import argparse
import html
import http.cookiejar
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
PASSWORD = "smoke-test-password-2026"


class SmokeFailed(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database of its own")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="referral-wheel-smoke-"))
    smoke = Smoke(work, args.database_url, args.redis_url)
    started = time.monotonic()
    try:
        smoke.run()
    except SmokeFailed as failure:
        print(f"wheel smoke: FAILED: {failure}", file=sys.stderr)
        smoke.print_logs()
        return 1
    finally:
        smoke.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"wheel smoke: passed in {time.monotonic() - started:.0f} s")
    return 0


class Smoke:
    def __init__(self, work: Path, database_url: str, redis_url: str) -> None:
        self.work, self.database_url, self.redis_url = work, database_url, redis_url
        self.venv = work / "venv"
        self.bin = self.venv / "bin"
        self.processes = Processes(work, "wheel smoke")
        self.env = self._environment()

    # --- steps -----------------------------------------------------------------------

    def run(self) -> None:
        wheel = self.step("build the sdist and the wheel", self.build)
        self.step("install the wheel into a fresh venv", self.install, wheel)
        self.step("the installed app is the wheel's", self.check_installed)
        self.step("an unwritable instance folder is refused by name", self.check_instance)
        self.step("reset the database", self.reset_database)
        self.step("referral db upgrade", self.referral, "db", "upgrade")
        nodes = self.step("start 2 web nodes and 2 workers", self.start_topology)
        self.step("the business's journey over HTTP", self.journey, nodes)
        self.step("a login limit reached on node 1 holds on node 2", self.shared_limit, nodes)

    def step(self, name: str, action, *args):  # type: ignore[no-untyped-def]
        began = time.monotonic()
        print(f"wheel smoke: {name} ...", flush=True)
        result = action(*args)
        print(f"wheel smoke:   ok ({time.monotonic() - began:.1f} s)", flush=True)
        return result

    def build(self) -> Path:
        dist = self.work / "dist"
        self.run_command([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)])
        sdists, wheels = list(dist.glob("*.tar.gz")), list(dist.glob("*.whl"))
        if len(sdists) != 1 or len(wheels) != 1:
            raise SmokeFailed(f"expected one sdist and one wheel, got {os.listdir(dist)}")
        return wheels[0]

    def install(self, wheel: Path) -> None:
        self.run_command([sys.executable, "-m", "venv", str(self.venv)])
        pip = [str(self.bin / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
        # What production installs: the runtime lock with the redis extra, by hash.
        lock = str(REQUIREMENTS / "redis.txt")
        self.run_command([*pip, "install", "--no-compile", "--require-hashes", "-r", lock])
        self.run_command([*pip, "install", "--no-compile", "--no-deps", str(wheel)])
        self.run_command([*pip, "check"])

    def check_installed(self) -> None:
        where = self.output(
            [str(self.bin / "python"), "-c", "import referral; print(referral.__file__)"]
        )
        if not where.strip().startswith(str(self.venv)):
            raise SmokeFailed(f"referral was imported from {where.strip()}, not the venv")

    def check_instance(self) -> None:
        locked = self.work / "locked"
        locked.mkdir()
        instance = locked / "instance"
        if os.geteuid() == 0:
            instance.write_text("root writes anywhere: a file where the folder should be")
        else:
            locked.chmod(0o500)
        env = {**self.env, "INSTANCE_PATH": str(instance)}
        env.pop("SECRET_KEY")
        finished = subprocess.run(
            [str(self.bin / "referral"), "config"],
            cwd=self.work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        message = finished.stdout + finished.stderr
        if finished.returncode == 0 or str(instance) not in message:
            raise SmokeFailed(f"an unwritable INSTANCE_PATH was not refused by name:\n{message}")
        if "Traceback" in message:
            raise SmokeFailed(f"the refusal is a traceback, not a message:\n{message}")

    def reset_database(self) -> None:
        self.run_command([str(self.bin / "python"), "-c", RESET_DATABASE, self.database_url])

    def referral(self, *args: str) -> None:
        self.run_command([str(self.bin / "referral"), *args])

    def start_topology(self) -> list[str]:
        nodes = []
        for number in (1, 2):
            port = free_port()
            self.start(
                f"web{number}",
                [
                    str(self.bin / "gunicorn"),
                    # The production settings, from the installed package.
                    "--config=python:referral.serving",
                    "--workers=1",
                    # Two masters on one host would share the default control socket.
                    "--no-control-socket",
                    f"--bind=127.0.0.1:{port}",
                    "referral:create_app()",
                ],
            )
            nodes.append(f"http://127.0.0.1:{port}")
        for number in (1, 2):
            self.start(f"worker{number}", [str(self.bin / "referral"), "worker"])
        for node in nodes:
            # Generous: a loaded 2-core machine can take a minute to import the app.
            wait_until(
                lambda node=node: http_status(f"{node}/healthz") == 200, 240, f"{node}/healthz"
            )
        return nodes

    def journey(self, nodes: list[str]) -> None:
        node1, node2 = nodes
        browser = Browser()
        email = f"owner-{secrets.token_hex(4)}@smoke.example"
        page = browser.get(f"{node1}/signup")
        trade = re.search(r'<option value="([^"]+)"', page.text)
        if not trade:
            raise SmokeFailed("the signup page offers no trade")
        response = browser.post(
            f"{node1}/signup",
            {
                "csrf_token": page.csrf_token(),
                "business_name": "Smoke Test Heating",
                "trade": trade.group(1),
                "zip_code": "78701",
                "radius_miles": "25",
                "name": "Sam Smoke",
                "email": email,
                "password": PASSWORD,
            },
        )
        expect(response, 200, "signing up")
        if email not in html.unescape(response.text):
            raise SmokeFailed("sign-up did not ask to check the inbox of the address given")

        def delivered() -> str | None:
            outbox = browser.get(f"{node2}/dev/outbox")
            match = re.search(r'href="(/dev/outbox/\d+)"', outbox.text)
            return match.group(1) if match and email in outbox.text else None

        message = wait_until(delivered, 180, "a worker to deliver the verification email")
        body = html.unescape(browser.get(f"{node1}{message}").text)
        link = re.search(r"https?://[^/\s\"<]+(/verify/[A-Za-z0-9_\-.]+)", body)
        if not link:
            raise SmokeFailed("the verification email has no link")
        # The link signs in on node 2; node 1 knows that session (one SECRET_KEY).
        expect(browser.get(f"{node2}{link.group(1)}"), 200, "following the verification link")
        home = browser.get(f"{node1}/")
        expect(home, 200, "the home page on node 1")
        if "Smoke Test Heating" not in home.text:
            raise SmokeFailed("node 1 does not know the session signed in on node 2")

        keys = browser.get(f"{node2}/settings/api-keys")
        created = browser.post(
            f"{node2}/settings/api-keys", {"csrf_token": keys.csrf_token(), "name": "smoke"}
        )
        expect(created, 201, "creating an API key")
        secret = re.search(r'id="new-key-secret">([^<]+)<', created.text)
        if not secret:
            raise SmokeFailed("the new API key is not shown")
        api = Browser().get(
            f"{node1}/api/v1/business",
            headers={"Authorization": f"Bearer {html.unescape(secret.group(1)).strip()}"},
        )
        expect(api, 200, "GET /api/v1/business with the key")
        if '"Smoke Test Heating"' not in api.text:
            raise SmokeFailed(f"the API answered another business: {api.text[:300]}")
        spec = Browser().get(f"{node2}/api/v1/openapi.json")
        expect(spec, 200, "the OpenAPI document")

    def shared_limit(self, nodes: list[str]) -> None:
        node1, node2 = nodes
        stranger = Browser()
        for attempt in range(1, 4):
            page = stranger.get(f"{node1}/login")
            response = stranger.post(
                f"{node1}/login",
                {"csrf_token": page.csrf_token(), "email": "nobody@smoke.example", "password": "x"},
            )
            expect(response, 401, f"failed login {attempt} of 3 on node 1")
        page = stranger.get(f"{node2}/login")
        response = stranger.post(
            f"{node2}/login",
            {"csrf_token": page.csrf_token(), "email": "nobody@smoke.example", "password": "x"},
        )
        expect(response, 429, "the 4th login, on node 2, over the shared limit of 3 a minute")

    # --- processes ---------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
            and not key.startswith("REFERRAL")
        }
        env.update(
            PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
            DATABASE_URL=self.database_url,
            SECRET_KEY=secrets.token_urlsafe(32),
            INSTANCE_PATH=str(self.work / "instance"),
            BASE_URL="http://127.0.0.1:5000",
            RATELIMIT_STORAGE_URI=self.redis_url,
            RATELIMIT_KEY_PREFIX=f"wheel-smoke-{secrets.token_hex(4)}",
            LOGIN_RATE_LIMIT="3 per minute",
            MAIL_BACKEND="outbox",
        )
        return env

    def run_command(self, command: list[str]) -> None:
        finished = subprocess.run(
            command, cwd=self.work, env=self.env, capture_output=True, text=True, timeout=600
        )
        if finished.returncode != 0:
            raise SmokeFailed(
                f"{' '.join(command)} exited {finished.returncode}:\n"
                f"{finished.stdout[-3000:]}{finished.stderr[-3000:]}"
            )

    def output(self, command: list[str]) -> str:
        return subprocess.run(
            command,
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout

    def start(self, name: str, command: list[str]) -> None:
        self.processes.start(name, command, cwd=self.work, env=self.env)

    def stop(self) -> None:
        self.processes.stop()

    def print_logs(self) -> None:
        self.processes.print_logs()


class Processes:
    """Started processes, each logging to a file in `work`; stopped together."""

    def __init__(self, work: Path, label: str) -> None:
        self.work, self.label = work, label
        self.running: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, command: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        log = self.work / f"{name}.log"
        with log.open("wb") as handle:
            process = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT
            )
        self.running.append((name, process, log))

    def stop(self) -> None:
        for _, process, _ in self.running:
            process.terminate()
        for name, process, _ in self.running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                print(f"{self.label}: {name} did not stop; killing it", file=sys.stderr)
                process.kill()
                process.wait()

    def print_logs(self) -> None:
        for name, process, log in self.running:
            tail = log.read_text(errors="replace").splitlines()[-25:] if log.exists() else []
            print(f"--- {name} (exit {process.poll()}) ---", file=sys.stderr)
            print("\n".join(tail), file=sys.stderr)


# An empty database: the smokes own theirs.
RESET_DATABASE = (
    "import sys, sqlalchemy as sa\n"
    "engine = sa.create_engine(sys.argv[1])\n"
    "with engine.begin() as c:\n"
    "    c.execute(sa.text('DROP SCHEMA IF EXISTS public CASCADE'))\n"
    "    c.execute(sa.text('CREATE SCHEMA public'))\n"
)


# --- a small browser -------------------------------------------------------------------


class Page:
    def __init__(self, status: int, text: str) -> None:
        self.status, self.text = status, text

    def csrf_token(self) -> str:
        match = re.search(r'name="csrf_token" value="([^"]+)"', self.text)
        if not match:
            raise SmokeFailed("no CSRF token on the page")
        return match.group(1)


class Browser:
    """Cookies (kept per host, so both nodes share the session), redirects followed."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, url: str, headers: dict[str, str] | None = None) -> Page:
        return self._open(urllib.request.Request(url, headers=headers or {}))

    def post(self, url: str, form: dict[str, str]) -> Page:
        data = urllib.parse.urlencode(form).encode()
        return self._open(urllib.request.Request(url, data=data, method="POST"))

    def _open(self, request: urllib.request.Request) -> Page:
        try:
            with self.opener.open(request, timeout=120) as response:
                return Page(response.status, response.read().decode())
        except urllib.error.HTTPError as error:
            return Page(error.code, error.read().decode(errors="replace"))


def expect(page: Page, status: int, what: str) -> None:
    if page.status != status:
        raise SmokeFailed(f"{what}: expected {status}, got {page.status}:\n{page.text[:1500]}")


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def wait_until(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise SmokeFailed(f"timed out after {timeout:.0f} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
