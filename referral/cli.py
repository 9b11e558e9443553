"""The `referral` command: Flask's CLI plus the project's own commands."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup

from referral import create_app


@click.group(cls=FlaskGroup, create_app=lambda: create_app())
def main() -> None:
    """Referral: run the app, its worker and its maintenance commands."""


db_group = click.Group("db", help="Database schema and reference data.")


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the schema to REVISION (default head) and seed reference data."""
    from referral import migrate
    from referral.businesses.taxonomy import seed_trades
    from referral.db import transaction

    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    if revision == "head":
        with transaction() as session:
            added = seed_trades(session)
        click.echo(f"Schema at head; {added} trades added.")


@db_group.command("downgrade")
@click.argument("revision", default="base")
def db_downgrade(revision: str) -> None:
    """Migrate the schema down to REVISION (default base: an empty database)."""
    from referral import migrate

    migrate.downgrade(current_app.config["DATABASE_URL"], revision)


@db_group.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models; read it by hand before committing."""
    from referral import migrate

    migrate.revision(current_app.config["DATABASE_URL"], message)


def register_commands(app: Flask) -> None:
    from referral.auth.cli import commands as auth_commands
    from referral.businesses.cli import commands as business_commands
    from referral.demo import commands as demo_commands
    from referral.devserver import commands as devserver_commands
    from referral.jobs.cli import commands as job_commands
    from referral.settlements.cli import commands as settlement_commands

    app.cli.add_command(db_group)
    for command in [
        *auth_commands,
        *business_commands,
        *job_commands,
        *settlement_commands,
        *demo_commands,
        *devserver_commands,
    ]:
        app.cli.add_command(command)
