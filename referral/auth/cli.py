"""`referral purge-expired-logins`: keep the session and token tables small."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from referral.auth.services import purge_expired_credentials
from referral.db import transaction


@click.command("purge-expired-logins")
@with_appcontext
def purge_expired_logins() -> None:
    """Delete expired login sessions and expired emailed links (run daily)."""
    with transaction() as session:
        purged = purge_expired_credentials(session=session)
    click.echo(
        f"Deleted {purged.login_sessions} expired login sessions "
        f"and {purged.tokens} expired emailed links."
    )


commands: list[click.Command] = [purge_expired_logins]
