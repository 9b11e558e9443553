"""`referral up`: the whole app on one machine, for a newcomer's first run.

Migrates the embedded database, loads the demo businesses, starts a job worker
as a child process (it delivers email into the outbox) and serves the web app
until Ctrl-C, then stops the children. Production runs the same pieces
separately: gunicorn for the web app and `referral worker` for jobs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import ExitStack

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple


@click.command("up")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--demo/--no-demo", default=True, show_default=True, help="Load demo data.")
@with_appcontext
def up_command(host: str, port: int, demo: bool) -> None:
    """Migrate, load demo data, start a job worker and serve the app."""
    from referral import migrate
    from referral.businesses.taxonomy import seed_trades
    from referral.db import transaction

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    migrate.upgrade(app.config["DATABASE_URL"], "head")
    with transaction() as session:
        seed_trades(session)
    if demo:
        from referral.demo import load_demo_data

        with transaction() as session:
            summary = load_demo_data(session)
        click.echo(summary.describe())

    with ExitStack() as children:
        children.enter_context(_child([sys.executable, "-m", "referral", "worker"], "worker"))
        click.echo(f"\nReferral is running at http://{host}:{port}/  (Ctrl-C stops it)")
        if app.config["MAIL_BACKEND"] == "outbox":
            click.echo(f"Email goes to the outbox: http://{host}:{port}/dev/outbox")
        # werkzeug directly: Flask's app.run() refuses to run inside the flask CLI.
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


class _child:
    """A supervised child process, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, argv: list[str], name: str) -> None:
        self.argv, self.name = argv, name

    def __enter__(self) -> subprocess.Popen[bytes]:
        self.process = subprocess.Popen(self.argv, env=os.environ.copy())
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
