"""`referral make-operator` and `referral trades`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlmodel import select

from referral.auth.models import User
from referral.businesses.models import Trade
from referral.businesses.services import competition_table
from referral.db import transaction


@click.command("make-operator")
@click.argument("email")
@with_appcontext
def make_operator(email: str) -> None:
    """Let an existing user run the platform (edit trades and competition)."""
    with transaction() as session:
        user = session.exec(select(User).where(User.email == email.strip().lower())).first()
        if user is None:
            raise click.ClickException(f"No user has the email {email}.")
        user.is_operator = True
    click.echo(f"{email} is now an operator.")


@click.command("trades")
@with_appcontext
def list_trades() -> None:
    """Every trade and the trades it competes with."""
    with transaction() as session:
        trades = list(session.exec(select(Trade).order_by(Trade.name)))
        names = {t.id: t.name for t in trades}
        table = competition_table(session)
        for trade in trades:
            rivals = ", ".join(sorted(names[c] for c in table.get(trade.id, ()))) or "-"
            click.echo(f"{trade.slug:<20} {trade.name:<26} competes with: {rivals}")


commands: list[click.Command] = [make_operator, list_trades]
