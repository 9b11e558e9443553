"""`referral backup` and `referral restore`: the whole database to one file and back.

SQLite: SQLite's online backup API, page by page, consistent while the app and
workers keep running (WAL). PostgreSQL: `pg_dump --format=custom` and
`pg_restore --clean` (the client tools of the server's major version), given
the connection through PG* environment variables so no password shows in the
process list. docs/operations.md says when and how to use them.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import URL, make_url


class BackupFailed(click.ClickException):
    pass


def backup_database(database_url: str, target: Path) -> None:
    """Write a consistent copy of the database to `target` (a new file)."""
    url = make_url(database_url)
    if target.exists():
        raise BackupFailed(f"{target} already exists; choose a new file.")
    if url.get_backend_name() == "sqlite":
        with closing(_sqlite(url)) as live, closing(sqlite3.connect(target)) as copy:
            live.backup(copy)
        return
    _pg_tool("pg_dump", url, "--format=custom", "--no-owner", f"--file={target}")


def restore_database(database_url: str, source: Path) -> None:
    """Replace the database's whole content with the backup in `source`."""
    url = make_url(database_url)
    if not source.is_file():
        raise BackupFailed(f"{source} is not a backup file.")
    if url.get_backend_name() == "sqlite":
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as backup:
            try:
                check = backup.execute("PRAGMA integrity_check").fetchone()
            except sqlite3.DatabaseError as error:
                raise BackupFailed(f"{source} is not a SQLite database: {error}") from None
            if check != ("ok",):
                raise BackupFailed(f"{source} is not a sound SQLite database: {check}")
            with closing(_sqlite(url)) as live:
                backup.backup(live)
        return
    _pg_tool(
        "pg_restore",
        url,
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--exit-on-error",
        f"--dbname={url.database}",
        str(source),
    )


def _sqlite(url: URL) -> sqlite3.Connection:
    if not url.database or url.database == ":memory:":
        raise BackupFailed("An in-memory SQLite database cannot be backed up.")
    return sqlite3.connect(url.database, timeout=30)


def _pg_tool(tool: str, url: URL, *args: str) -> None:
    if shutil.which(tool) is None:
        raise BackupFailed(f"{tool} is not installed (apt-get install postgresql-client).")
    env = {**os.environ, "PGDATABASE": url.database or ""}
    for variable, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
    ):
        if value is not None:
            env[variable] = str(value)
    finished = subprocess.run([tool, *args], env=env, capture_output=True, text=True)
    if finished.returncode != 0:
        raise BackupFailed(f"{tool} failed ({finished.returncode}): {finished.stderr.strip()}")


@click.command("backup")
@click.argument("target", type=click.Path(path_type=Path))
@with_appcontext
def backup_command(target: Path) -> None:
    """Copy the whole database to TARGET while the app runs (SQLite: the online
    backup API; PostgreSQL: pg_dump's custom format)."""
    backup_database(current_app.config["DATABASE_URL"], target)
    click.echo(f"Backed up to {target} ({target.stat().st_size:,} bytes).")


@click.command("restore")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(source: Path, yes: bool) -> None:
    """Replace the database's content with the backup SOURCE. Stop the web nodes
    and workers first; run `referral db upgrade` after if the backup is older."""
    url = current_app.config["DATABASE_URL"]
    where = make_url(url).render_as_string(hide_password=True)
    if not yes:
        click.confirm(f"Replace everything in {where} with {source}?", abort=True)
    restore_database(url, source)
    click.echo(f"Restored {where} from {source}.")


commands: list[click.Command] = [backup_command, restore_command]
