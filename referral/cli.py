"""The `referral` command: Flask's CLI plus the project's own commands."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from referral import create_app
from referral.config import ConfigError
from referral.paths import InstanceFolderError


def _create_app() -> Flask:
    """The app, or a one-line error naming the setting or folder that is wrong."""
    try:
        return create_app()
    except (ConfigError, InstanceFolderError) as error:
        raise click.ClickException(str(error)) from None


# load_dotenv=False: settings read .env in the working directory themselves
# (referral/config.py), the same way under gunicorn as on the command line.
@click.group(cls=FlaskGroup, create_app=_create_app, load_dotenv=False)
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


@click.command("config")
@with_appcontext
def config_command() -> None:
    """Print the effective settings, secrets masked."""
    from referral.config import describe_settings

    for line in describe_settings(current_app.config):
        click.echo(line)


def register_commands(app: Flask) -> None:
    from referral import domains

    app.cli.add_command(db_group)
    app.cli.add_command(config_command)
    domains.register_commands(app)
