"""`referral make-operator EMAIL` and `referral trades`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from referral.auth.services import user_by_email
from referral.businesses.services import list_trades
from referral.db import transaction


@click.command("make-operator")
@click.argument("email")
@with_appcontext
def make_operator(email: str) -> None:
    """Let an existing user run the platform (edit trades and competition)."""
    with transaction() as session:
        user = user_by_email(session, email)
        if user is None:
            raise click.ClickException(f"No user has the email {email}. Sign up first.")
        if user.is_operator:
            click.echo(f"{user.email} is already an operator.")
            return
        user.is_operator = True
        session.add(user)
    click.echo(f"{user.email} is now an operator.")


@click.command("trades")
@with_appcontext
def list_trades_command() -> None:
    """Every trade and the trades it competes with."""
    with transaction() as session:
        listings = list_trades(session)
        for listing in listings:
            rivals = ", ".join(t.name for t in listing.competitors) or "only itself"
            click.echo(f"{listing.slug:<20} {listing.name:<26} competes with: {rivals}")
    click.echo(f"{len(listings)} trades. A trade always competes with itself.")


commands: list[click.Command] = [make_operator, list_trades_command]
