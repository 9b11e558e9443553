"""`referral up`: the whole app on one machine, for a newcomer's first run.

Migrates the embedded database, loads the demo businesses, starts a job worker
as a child process (it delivers email into the outbox) and, unless real Stripe
keys are configured, the local Stripe stand-in (a separate GPL process under
devtools/, never imported by the app), then serves the web app until Ctrl-C and
stops the children. Production runs the same pieces separately: gunicorn for
the web app, `referral worker` for jobs, and real Stripe.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from referral.config import STANDIN_SECRET_KEY
from referral.paths import CHECKOUT_ROOT
from referral.payments import webhooks


@click.command("up")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--demo/--no-demo", default=True, show_default=True, help="Load demo data.")
@click.option(
    "--debug",
    is_flag=True,
    help="Reload on code changes and show the interactive debugger (loopback only).",
)
@with_appcontext
def up_command(host: str, port: int, demo: bool, debug: bool) -> None:
    """Migrate, load demo data, start a job worker and serve the app."""
    from referral import migrate

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if debug and not _is_loopback(host):
        # The debugger runs any Python its page is given: never off this machine.
        raise click.UsageError(f"--debug serves only on loopback, not {host}.")
    if os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        # The reloader's server process: the first process already migrated and
        # started the worker and stand-in, which outlive every reload.
        app.debug = True
        run_simple(host, port, app, threaded=True, use_reloader=True, use_debugger=True)
        return
    from referral.businesses.taxonomy import seed_trades
    from referral.db import transaction

    migrate.upgrade(app.config["DATABASE_URL"], "head")
    with transaction() as session:
        seed_trades(session)
    if demo:
        from referral.demo import load_demo_data

        with transaction() as session:
            summary = load_demo_data(session)
        click.echo(summary.describe())

    with ExitStack() as children:
        if app.config["STRIPE_SECRET_KEY"] == STANDIN_SECRET_KEY:
            children.enter_context(_standin(app.config, host, port))
        children.enter_context(_child([sys.executable, "-m", "referral", "worker"], "worker"))
        click.echo(f"\nReferral is running at http://{host}:{port}/  (Ctrl-C stops it)")
        if app.config["MAIL_BACKEND"] == "outbox":
            click.echo(f"Email goes to the outbox: http://{host}:{port}/dev/outbox")
        app.debug = debug
        # werkzeug directly: Flask's app.run() refuses to run inside the flask CLI.
        run_simple(host, port, app, threaded=True, use_reloader=debug, use_debugger=debug)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _standin(config: dict[str, object], host: str, port: int) -> _child:
    """Start the Stripe stand-in where STRIPE_API_BASE points, sending its signed
    webhooks to this app (the secret goes over loopback HTTP, not the command line)."""
    base = str(config["STRIPE_API_BASE"])
    where = urlsplit(base)
    root = CHECKOUT_ROOT
    if not (root / "devtools" / "stripe_standin").is_dir():
        raise click.ClickException("The Stripe stand-in (devtools/) is not in this checkout.")
    child = _child(
        [
            sys.executable,
            "-m",
            "devtools.stripe_standin",
            "--host",
            str(where.hostname),
            "--port",
            str(where.port or 80),
        ],
        "stripe stand-in",
        cwd=root,
    )
    app_url = f"http://{host}:{port}"
    events = webhooks.endpoint_events()
    child.after_start = lambda: _configure_standin(
        base,
        {
            "platform": (
                f"{app_url}/stripe/webhook",
                str(config["STRIPE_WEBHOOK_SECRET"]),
                events["platform"],
            ),
            "connect": (
                f"{app_url}/stripe/webhook/connect",
                str(config["STRIPE_CONNECT_WEBHOOK_SECRET"]),
                events["connect"],
            ),
        },
    )
    return child


def _configure_standin(base: str, endpoints: dict[str, tuple[str, str, list[str]]]) -> None:
    """Point the stand-in's platform and Connect endpoints at this app, each for
    the events `referral stripe setup` would register it for."""
    deadline = time.monotonic() + 30
    pending = dict(endpoints)
    while pending:
        name, (url, secret, events) = next(iter(pending.items()))
        body = json.dumps(
            {"endpoint": name, "url": url, "secret": secret, "enabled_events": events}
        ).encode()
        request = urllib.request.Request(
            f"{base}/_config/webhook", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            urllib.request.urlopen(request, timeout=2).close()
            del pending[name]
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise click.ClickException(f"The Stripe stand-in did not start at {base}") from None
            time.sleep(0.2)
    click.echo(f"Stripe stand-in running at {base}/_standin/dashboard")


class _child:
    """A supervised child process, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, argv: list[str], name: str, *, cwd: Path | None = None) -> None:
        self.argv, self.name, self.cwd = argv, name, cwd
        self.after_start: Callable[[], None] | None = None

    def __enter__(self) -> subprocess.Popen[bytes]:
        self.process = subprocess.Popen(self.argv, env=os.environ.copy(), cwd=self.cwd)
        if self.after_start is not None:
            try:
                self.after_start()
            except BaseException:
                self.__exit__()
                raise
        return self.process

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            click.echo(f"{self.name} did not stop in time; killing it", err=True)
            self.process.kill()
            self.process.wait()


commands: list[click.Command] = [up_command]
