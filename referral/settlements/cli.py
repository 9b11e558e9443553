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
    """Compare the ledger with Stripe's charges, transfers and disputes, for
    settlements and lead purchases, and check the ledger's own invariants; list
    every mismatch and violation, and every partnership whose settlement failed.
    Exits 1 when there is one."""
    from referral.db import transaction
    from referral.payments.mismatches import find_mismatches
    from referral.settlements.invariants import check_invariants
    from referral.settlements.services import open_failures

    with transaction() as session:
        checked, mismatches = find_mismatches(session, since_days=since_days)
        failures = open_failures(session)
        violations = check_invariants(session)
    click.echo(
        f"{checked} settlement(s) and lead purchase(s) checked, {len(mismatches)} mismatch(es)."
    )
    for m in mismatches:
        click.echo(
            f"  {m.subject} {m.stripe_id}: {m.problem}"
            f" (ledger {_cents(m.ledger_cents)}, Stripe {_cents(m.stripe_cents)})"
        )
    click.echo(f"Money invariants: {len(violations)} violation(s).")
    for v in violations:
        click.echo(
            f"  [{v.invariant}] {v.detail}: expected {_cents(v.expected_cents)},"
            f" found {_cents(v.found_cents)}{_about(v)}"
        )
    if failures:
        click.echo(f"{len(failures)} partnership(s) failed to settle (retried by the next run):")
    for f in failures:
        click.echo(
            f"  partnership {f.partnership_id}: failed {f.failures} time(s),"
            f" last {f.last_failed_at:%Y-%m-%d %H:%M} UTC: {f.error.splitlines()[0][:200]}"
        )
    if mismatches or violations or failures:
        raise SystemExit(1)


def _cents(cents: int | None) -> str:
    return "-" if cents is None else format_cents(cents)


def _about(violation: object) -> str:
    names = ("commission_id", "settlement_id", "partnership_id", "business_id")
    parts = [
        f"{name.removesuffix('_id')} {getattr(violation, name)}"
        for name in names
        if getattr(violation, name) is not None
    ]
    return f" ({', '.join(parts)})" if parts else ""


commands.append(reconcile_command)
