"""The whole money path through the Stripe stand-in and its signed webhooks:
connect an Express account, save a card, win a referral, settle, get paid."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import User
from referral.commissions.models import Commission
from referral.ledger.services import balance, transaction_sums
from referral.payments.models import BillingProfile, ConnectedAccount
from referral.settlements.models import Settlement
from tests.commissions.support import business, partner_up, percent, won_referral
from tests.factories import sign_in
from tests.payments.conftest import eventually
from tests.support.stripe_standin import StripeStandIn


@pytest.fixture
def hvac(db: Session):  # type: ignore[no-untyped-def]
    return business(db, "Cool Air HVAC", "hvac", "78701", "alex@coolair.example")


@pytest.fixture
def plumber(db: Session):  # type: ignore[no-untyped-def]
    return business(db, "Drip Plumbing", "plumbing", "78704", "blair@drip.example")


def browser_of(app: Flask, db: Session, who):  # type: ignore[no-untyped-def]
    return sign_in(app, db.get(User, who.user_id))


def fresh(db: Session, model, **where):  # type: ignore[no-untyped-def]
    db.expire_all()
    query = select(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.exec(query).first()


def connect_stripe(app, db, standin: StripeStandIn, who) -> ConnectedAccount:  # type: ignore[no-untyped-def]
    """The business clicks "Connect with Stripe" and finishes onboarding."""
    response = browser_of(app, db, who).post_form("/payments/connect", {}, page="/payments")
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"{standin.api_base}/_standin/onboarding/")
    account = fresh(db, ConnectedAccount, business_id=who.business_id)
    assert account is not None and not account.payouts_enabled
    standin.complete_onboarding(account.stripe_account_id)
    return eventually(
        lambda: (
            (a := fresh(db, ConnectedAccount, business_id=who.business_id)).payouts_enabled and a
        ),
        what="account.updated applied",
    )


def save_card(
    app, db, standin: StripeStandIn, who, card: str = "4242424242424242"
) -> BillingProfile:  # type: ignore[no-untyped-def]
    response = browser_of(app, db, who).post_form("/payments/card", {}, page="/payments")
    assert response.status_code == 303
    session_id = re.search(r"/_standin/checkout/([^/?#]+)", response.headers["Location"]).group(1)
    assert standin.complete_checkout(session_id, card).status_code == 200
    return eventually(
        lambda: (
            (b := fresh(db, BillingProfile, business_id=who.business_id)).payment_method_id and b
        ),
        what="checkout.session.completed applied",
    )


@pytest.fixture
def owed(app, db, hvac, plumber):  # type: ignore[no-untyped-def]
    """The plumber owes HVAC $100.00: 10% of a $1,000 job HVAC referred."""
    with app.app_context():
        partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
        return won_referral(db, hvac, plumber, 100_000)


def test_a_commission_is_paid_end_to_end_through_stripe(
    app, db, standin, live, hvac, plumber, owed
):
    account = connect_stripe(app, db, standin, hvac)
    card = save_card(app, db, standin, plumber)
    assert (card.card_brand, card.card_last4) == ("visa", "4242")
    page = browser_of(app, db, plumber).get("/payments").get_data(as_text=True)
    assert "4242" in page

    response = browser_of(app, db, hvac).post_form("/settlements/run", {}, page="/settlements")
    assert response.status_code == 302

    settlement = eventually(
        lambda: (s := fresh(db, Settlement)) and s.status == "paid" and s, what="settlement paid"
    )
    assert (settlement.net_cents, settlement.platform_fee_cents) == (10_000, 500)
    [intent] = standin.client().v1.payment_intents.list().data
    assert intent.amount == 10_000
    assert intent.application_fee_amount == 500
    assert intent.transfer_data.destination == account.stripe_account_id
    assert intent.metadata["settlement_id"] == str(settlement.id)
    assert fresh(db, Commission).status == "paid"
    assert balance(db, "stripe_balance") == 500
    assert balance(db, "platform_fees") == -500
    assert set(transaction_sums(db).values()) == {0}
    statement = browser_of(app, db, hvac).get(f"/settlements/{settlement.id}")
    assert "$95.00" in statement.get_data(as_text=True)  # paid to HVAC after the fee


def test_a_creditor_who_finishes_onboarding_later_is_then_paid(
    app, db, standin, live, hvac, plumber, owed
):
    save_card(app, db, standin, plumber)
    browser_of(app, db, hvac).post_form("/settlements/run", {}, page="/settlements")
    eventually(
        lambda: (s := fresh(db, Settlement)) and s.status == "waiting", what="settlement waits"
    )
    assert fresh(db, Settlement).waiting_reason == "creditor_not_onboarded"

    connect_stripe(app, db, standin, hvac)

    eventually(lambda: fresh(db, Settlement).status == "paid", what="settlement paid")


def test_a_declined_card_schedules_a_retry_and_tells_the_debtor(
    app, db, standin, live, hvac, plumber, owed
):
    from referral.notifications.models import Notification

    connect_stripe(app, db, standin, hvac)
    save_card(app, db, standin, plumber, card="4000000000000341")  # saves; charges decline
    browser_of(app, db, hvac).post_form("/settlements/run", {}, page="/settlements")

    settlement = eventually(
        lambda: (s := fresh(db, Settlement)) and s.status == "retry_scheduled" and s,
        what="retry scheduled",
    )
    assert settlement.attempts == 1 and settlement.next_attempt_at is not None
    assert fresh(db, Notification, business_id=plumber.business_id, kind="settlement.declined")


def test_a_new_card_after_a_decline_settles_at_once(app, db, standin, live, hvac, plumber, owed):
    connect_stripe(app, db, standin, hvac)
    save_card(app, db, standin, plumber, card="4000000000009995")  # insufficient funds
    browser_of(app, db, hvac).post_form("/settlements/run", {}, page="/settlements")
    eventually(lambda: (s := fresh(db, Settlement)) and s.status == "retry_scheduled")

    save_card(app, db, standin, plumber, card="4242424242424242")

    settlement = eventually(
        lambda: (s := fresh(db, Settlement)) and s.status == "paid" and s, what="paid"
    )
    assert settlement.attempts == 2
    assert len(standin.client().v1.payment_intents.list().data) == 2  # one declined, one paid


def test_stripe_failing_with_500s_is_retried_with_the_same_key_and_charges_once(
    app, db, standin, live, hvac, plumber, owed
):
    connect_stripe(app, db, standin, hvac)
    save_card(app, db, standin, plumber)
    standin.add_fault("error_500", path_prefix="/v1/payment_intents", count=4)

    browser_of(app, db, hvac).post_form("/settlements/run", {}, page="/settlements")

    eventually(lambda: fresh(db, Settlement).status == "paid", timeout=60, what="paid")
    assert len(standin.client().v1.payment_intents.list().data) == 1


@pytest.fixture
def paid(app, db, standin, live, hvac, plumber, owed) -> Settlement:  # type: ignore[no-untyped-def]
    """The $100.00 settled: $5.00 platform fee, $95.00 transferred to HVAC."""
    connect_stripe(app, db, standin, hvac)
    save_card(app, db, standin, plumber)
    browser_of(app, db, hvac).post_form("/settlements/run", {}, page="/settlements")
    return eventually(
        lambda: (s := fresh(db, Settlement)) and s.status == "paid" and s, what="settlement paid"
    )


def every_balance_is_zero(db: Session) -> None:
    from referral.ledger.models import ACCOUNTS

    for account in ACCOUNTS:
        assert balance(db, account) == 0, account
    assert set(transaction_sums(db).values()) == {0}


def test_a_dispute_holds_the_commissions_and_a_won_dispute_releases_them(app, db, standin, paid):
    dispute = standin.open_dispute(paid.charge_id)
    eventually(lambda: fresh(db, Settlement).status == "disputed", what="disputed")
    assert fresh(db, Commission).status == "held"

    standin.close_dispute(dispute["id"], "won")

    eventually(lambda: fresh(db, Settlement).status == "paid", what="released")
    assert fresh(db, Commission).status == "paid"
    assert fresh(db, Commission).settled_cents == 10_000  # held and released, still settled


def test_a_lost_dispute_reverses_the_transfer_the_fee_and_the_commissions(app, db, standin, paid):
    dispute = standin.open_dispute(paid.charge_id)
    eventually(lambda: fresh(db, Settlement).status == "disputed", what="disputed")

    standin.close_dispute(dispute["id"], "lost")

    settlement = eventually(
        lambda: (s := fresh(db, Settlement)) and s.status == "reversed" and s, what="reversed"
    )
    assert settlement.refunded_cents == 10_000
    assert fresh(db, Commission).status == "reversed"
    assert fresh(db, Commission).settled_cents == 0  # its settlement no longer counts
    [transfer] = standin.client().v1.transfers.list().data
    assert transfer.amount_reversed == 9_500
    every_balance_is_zero(db)


def test_an_operator_refund_reverses_once_even_when_the_webhook_comes_twice(app, db, standin, paid):
    from referral.payments.models import StripeEvent
    from referral.settlements.reversals import refund_settlement
    from tests.payments.conftest import WEBHOOK_SECRET
    from tests.payments.signing import signed

    with app.app_context():
        refund_settlement(db, paid.id)
    settlement = eventually(
        lambda: (s := fresh(db, Settlement)) and s.status == "reversed" and s, what="reversed"
    )
    refunded = fresh(db, StripeEvent, type="charge.refunded")
    again = {**refunded.payload, "id": "evt_redelivered_refund"}
    body, header = signed(again, WEBHOOK_SECRET)
    assert (
        app.test_client()
        .post("/stripe/webhook", data=body, headers={"Stripe-Signature": header})
        .status_code
        == 200
    )
    eventually(
        lambda: (
            (e := fresh(db, StripeEvent, stripe_event_id="evt_redelivered_refund"))
            and e.status != "received"
        ),
        what="second refund event handled",
    )

    assert fresh(db, Settlement).refunded_cents == settlement.refunded_cents == 10_000
    every_balance_is_zero(db)


def test_reconciliation_agrees_with_stripe_after_a_paid_settlement(app, db, standin, paid):
    from referral.settlements.reconcile import find_mismatches

    with app.app_context():
        checked, mismatches = find_mismatches(db)

    assert (checked, mismatches) == (1, [])


def test_reconciliation_lists_a_charge_whose_webhook_never_arrived(
    app, db, standin, live, hvac, plumber, owed
):
    from referral.auth.models import User
    from referral.settlements.models import ReconciliationRun

    connect_stripe(app, db, standin, hvac)
    save_card(app, db, standin, plumber)
    standin.send_webhooks_to(None)  # Stripe's events are lost from here on
    browser_of(app, db, hvac).post_form("/settlements/run", {}, page="/settlements")
    eventually(lambda: fresh(db, Settlement).payment_intent_id, what="charge sent")

    operator = db.get(User, hvac.user_id)
    operator.is_operator = True
    db.commit()
    admin = browser_of(app, db, hvac)
    admin.post_form("/operator/payments/reconcile", {}, page="/operator/payments")
    run = eventually(
        lambda: (r := fresh(db, ReconciliationRun)) and r.status == "done" and r,
        what="reconciliation done",
    )

    [mismatch] = run.mismatches
    assert mismatch["subject"] == f"settlement {fresh(db, Settlement).id}"
    assert mismatch["problem"].startswith("charged at Stripe but processing here")
    assert mismatch["stripe_cents"] == 10_000
    page = admin.get("/operator/payments").get_data(as_text=True)
    assert f"<td>{mismatch['subject']}</td>" in page
    assert "charged at Stripe but processing here" in page


def test_the_monthly_statement_shows_what_was_earned_and_received(app, db, hvac, paid):
    client = browser_of(app, db, hvac)
    month = f"{paid.paid_at:%Y-%m}"

    page = client.get(f"/statements?month={month}").get_data(as_text=True)
    csv_text = client.get(f"/statements.csv?month={month}").get_data(as_text=True)

    assert "$100.00" in page and "$95.00" in page
    assert csv_text.splitlines()[0] == "date,kind,reference,partner,status,amount"
    assert any(
        line.endswith(",95.00") and "settlement received" in line for line in csv_text.splitlines()
    )
    assert any(
        line.endswith(",100.00") and "commission earned" in line for line in csv_text.splitlines()
    )


def test_a_payment_failed_event_after_the_success_leaves_the_settlement_paid(
    app, db, standin, paid
):
    from tests.payments.conftest import WEBHOOK_SECRET
    from tests.payments.signing import event, signed

    intent = standin.client().v1.payment_intents.retrieve(paid.payment_intent_id).to_dict()
    failed = {
        **intent,
        "status": "requires_payment_method",
        "last_payment_error": {"message": "Your card was declined."},
    }
    body, header = signed(
        event("payment_intent.payment_failed", failed, event_id="evt_late_failure"), WEBHOOK_SECRET
    )
    assert (
        app.test_client()
        .post("/stripe/webhook", data=body, headers={"Stripe-Signature": header})
        .status_code
        == 200
    )

    from referral.payments.models import StripeEvent

    eventually(
        lambda: (
            (e := fresh(db, StripeEvent, stripe_event_id="evt_late_failure"))
            and e.status == "ignored"
        ),
        what="late failure ignored",
    )
    assert fresh(db, Settlement).status == "paid"
