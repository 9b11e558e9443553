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


@click.command("reconcile")
@click.option("--since-days", default=90, show_default=True, type=click.IntRange(min=1))
@with_appcontext
def reconcile_command(since_days: int) -> None:
    """Compare the ledger with Stripe's charges and transfers, for settlements and
    lead purchases; list every mismatch. Exits 1 when there is one."""
    from referral.db import transaction
    from referral.settlements.reconcile import find_mismatches

    with transaction() as session:
        checked, mismatches = find_mismatches(session, since_days=since_days)
    click.echo(
        f"{checked} settlement(s) and lead purchase(s) checked, {len(mismatches)} mismatch(es)."
    )
    for m in mismatches:
        ours = "-" if m.ledger_cents is None else format_cents(m.ledger_cents)
        theirs = "-" if m.stripe_cents is None else format_cents(m.stripe_cents)
        click.echo(f"  {m.subject} {m.stripe_id}: {m.problem} (ledger {ours}, Stripe {theirs})")
    if mismatches:
        raise SystemExit(1)


commands.append(reconcile_command)
