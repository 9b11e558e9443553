"""Settlement with netting: per partnership, what each side owes the other
cancels out, the net debtor is charged once, and the ledger follows every step.

These tests apply PaymentIntent states directly; tests/payments drive the same
path through the Stripe stand-in and signed webhooks."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, select

from referral.commissions import services as commissions
from referral.commissions.models import Commission
from referral.db import utcnow
from referral.jobs.models import Job
from referral.ledger.services import balance, transaction_sums
from referral.payments.models import ConnectedAccount
from referral.settlements import services
from referral.settlements.models import Settlement
from tests.support.factories import flat, partner_up, percent, ready_to_pay, won_referral
from tests.support.settlements import payment

pytestmark = pytest.mark.usefixtures("app_context")


@pytest.fixture
def owed_both_ways(db, hvac, plumber):  # type: ignore[no-untyped-def]
    """The plumber owes HVAC $100.00 (10% of a $1,000 job); HVAC owes the plumber $30.00."""
    partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=flat(3_000))
    won_referral(db, hvac, plumber, 100_000)
    won_referral(db, plumber, hvac, 55_000)
    db.commit()


def build(db: Session) -> Settlement:
    [settlement] = services.build_settlements(db)
    db.commit()
    return settlement


def test_commissions_owed_both_ways_are_netted_into_one_charge(db, hvac, plumber, owed_both_ways):
    settlement = build(db)

    assert (settlement.debtor_id, settlement.creditor_id) == (plumber.business_id, hvac.business_id)
    assert (settlement.debtor_owed_cents, settlement.creditor_owed_cents) == (10_000, 3_000)
    assert settlement.net_cents == 7_000
    assert settlement.platform_fee_cents == 350  # 5% by default
    statuses = db.exec(select(Commission.status)).all()
    assert set(statuses) == {"settling"}


def test_a_creditor_without_payouts_makes_the_settlement_wait_and_is_reminded(
    db, hvac, plumber, owed_both_ways
):
    settlement = build(db)
    services.attempt(db, settlement)
    db.commit()

    assert (settlement.status, settlement.waiting_reason) == ("waiting", "creditor_not_onboarded")
    assert settlement.attempts == 0
    from referral.notifications.models import Notification

    reminded = db.exec(
        select(Notification).where(
            Notification.business_id == hvac.business_id, Notification.kind == "settlement.waiting"
        )
    ).all()
    assert len(reminded) == 1


def test_a_debtor_without_a_card_makes_the_settlement_wait(db, hvac, plumber, owed_both_ways):
    db.add(
        ConnectedAccount(
            business_id=hvac.business_id,
            stripe_account_id="acct_1",
            charges_enabled=True,
            payouts_enabled=True,
        )
    )
    settlement = build(db)
    services.attempt(db, settlement)

    assert (settlement.status, settlement.waiting_reason) == ("waiting", "debtor_no_payment_method")


def test_a_paid_settlement_clears_what_both_owed_and_keeps_only_the_fee(
    db, hvac, plumber, owed_both_ways
):
    ready_to_pay(db, hvac.business_id, plumber.business_id)
    settlement = build(db)
    services.attempt(db, settlement)
    assert (settlement.status, settlement.attempts) == ("processing", 1)
    assert db.exec(select(Job).where(Job.kind == services.CHARGE_SETTLEMENT)).first() is not None
    assert services.idempotency_key(settlement) == f"settlement-{settlement.id}-attempt-1"

    assert services.apply_payment(db, payment(settlement)) == "applied: paid"
    db.commit()

    assert settlement.status == "paid"
    for business in (hvac, plumber):
        for account in ("receivable", "payable", "pending_receivable", "pending_payable"):
            assert balance(db, account, business_id=business.business_id) == 0, account
    assert balance(db, "platform_fees") == -350
    assert balance(db, "stripe_balance") == 350  # 7,000 in, 6,650 sent to the creditor
    assert set(db.exec(select(Commission.status)).all()) == {"paid"}
    assert set(transaction_sums(db).values()) == {0}


def test_the_same_success_applied_twice_pays_once(db, hvac, plumber, owed_both_ways):
    ready_to_pay(db, hvac.business_id, plumber.business_id)
    settlement = build(db)
    services.attempt(db, settlement)
    services.apply_payment(db, payment(settlement))
    before = len(transaction_sums(db))

    assert services.apply_payment(db, payment(settlement)).startswith("ignored")
    assert len(transaction_sums(db)) == before


def test_a_failure_arriving_after_the_success_leaves_it_paid(db, hvac, plumber, owed_both_ways):
    ready_to_pay(db, hvac.business_id, plumber.business_id)
    settlement = build(db)
    services.attempt(db, settlement)
    services.apply_payment(db, payment(settlement))

    services.apply_payment(db, payment(settlement, "requires_payment_method"))

    assert settlement.status == "paid"


def test_a_declined_charge_retries_on_the_schedule_then_fails_and_frees_its_commissions(
    db, hvac, plumber, owed_both_ways
):
    ready_to_pay(db, hvac.business_id, plumber.business_id)
    settlement = build(db)
    waits = []
    for _ in range(3):
        services.attempt(db, settlement)
        services.apply_payment(db, payment(settlement, "requires_payment_method"))
        assert settlement.status == "retry_scheduled"
        waits.append(round((settlement.next_attempt_at - utcnow()) / dt.timedelta(days=1)))
    services.attempt(db, settlement)
    services.apply_payment(db, payment(settlement, "requires_payment_method"))
    db.commit()

    assert waits == [1, 3, 7]
    assert settlement.status == "failed"
    assert set(db.exec(select(Commission.status)).all()) == {"approved"}
    assert balance(db, "stripe_balance") == 0


def test_when_both_owe_the_same_nothing_is_charged(db, hvac, plumber):
    partner_up(db, plumber, hvac, a_pays=flat(4_000), b_pays=flat(4_000))
    won_referral(db, hvac, plumber, 10_000)
    won_referral(db, plumber, hvac, 10_000)

    settlement = build(db)

    assert (settlement.status, settlement.net_cents) == ("netted", 0)
    assert set(db.exec(select(Commission.status)).all()) == {"paid"}
    assert balance(db, "receivable", business_id=hvac.business_id) == 0
    assert db.exec(select(Job).where(Job.kind == services.ATTEMPT_SETTLEMENT)).first() is None


def test_a_refund_after_payment_is_clawed_back_in_the_next_settlement(db, hvac, plumber):
    partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
    referral = won_referral(db, hvac, plumber, 100_000)
    ready_to_pay(db, hvac.business_id, plumber.business_id)
    ready_to_pay(db, plumber.business_id, hvac.business_id)
    first = build(db)
    services.attempt(db, first)
    services.apply_payment(db, payment(first))
    db.commit()

    commissions.report_refund(
        session=db, business_id=plumber.business_id, referral_id=referral.id, refund_cents=40_000
    )
    db.commit()
    [commission] = db.exec(select(Commission)).all()
    assert (commission.amount_cents, commission.status) == (6_000, "approved")
    assert commissions.outstanding_cents(commission) == -4_000

    second = build(db)
    # Now HVAC owes back what it was overpaid: the direction flips.
    assert (second.debtor_id, second.net_cents) == (hvac.business_id, 4_000)
    services.attempt(db, second)
    services.apply_payment(db, payment(second))
    db.commit()

    assert commissions.outstanding_cents(commission) == 0
    assert commission.status == "paid"
    for business in (hvac, plumber):
        assert balance(db, "receivable", business_id=business.business_id) == 0
        assert balance(db, "payable", business_id=business.business_id) == 0
    assert set(transaction_sums(db).values()) == {0}


def test_a_net_below_the_minimum_charge_waits_for_the_next_run(db, hvac, plumber):
    partner_up(db, plumber, hvac, a_pays=percent(10), b_pays=percent(1000))
    won_referral(db, hvac, plumber, 40_000)  # 0.1% = 40 cents

    assert services.build_settlements(db) == []
    assert db.exec(select(Settlement)).first() is None


def test_one_settlement_at_a_time_per_partnership(db, hvac, plumber, owed_both_ways):
    build(db)
    won_referral(db, hvac, plumber, 10_000)

    assert services.build_settlements(db) == []
