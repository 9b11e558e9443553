"""`referral settle`: approve what is due and settle now, instead of waiting for
the weekly run (the worker then charges)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from referral.money import format_cents


@click.command("settle")
@click.option("--business", "business_id", type=int, help="Only this business's partnerships.")
@with_appcontext
def settle_command(business_id: int | None) -> None:
    """Approve commissions whose hold has passed and build settlements now."""
    from referral.commissions.services import approve_due
    from referral.db import transaction
    from referral.settlements.services import build_settlements

    with transaction() as session:
        approved = approve_due(session)
        built = build_settlements(session, business_id=business_id)
        click.echo(f"{approved} commission(s) approved; {len(built)} settlement(s) built.")
        for settlement in built:
            click.echo(
                f"  settlement {settlement.id}: business {settlement.debtor_id} pays"
                f" {format_cents(settlement.net_cents, settlement.currency)} to business"
                f" {settlement.creditor_id} ({settlement.status})"
            )


commands: list[click.Command] = [settle_command]
