"""Reconciliation of lead purchases: every PaymentIntent the stand-in holds for a
lead purchase is compared with the purchase and with the ledger, beside the
settlements' (one listing of Stripe per run)."""

from __future__ import annotations

from referral.leads.models import LeadPurchase
from referral.ledger.services import pair, post
from referral.payments.mismatches import Mismatch, find_mismatches
from tests.support.leads import bought
from tests.support.payments import eventually
from tests.support.stripe_pages import fresh


def reconciled(app, db):  # type: ignore[no-untyped-def]
    with app.app_context():
        return find_mismatches(db)


def test_a_paid_lead_purchase_agrees_with_stripe(app, db, market):  # noqa: F811
    bought(app, db, market)

    assert reconciled(app, db) == (1, [])


def test_a_transfer_booked_twice_is_a_mismatch_in_the_amount_transferred(
    app,
    db,
    market,  # noqa: F811
):
    purchase = bought(app, db, market)
    with app.app_context():  # a second booking of the same transfer to the seller
        post(
            db,
            "transfer",
            pair(4_275, debit="payable", credit="stripe_balance"),
            currency="USD",
            stripe_object_id=purchase.charge_id,
        )
        db.commit()

    checked, mismatches = reconciled(app, db)

    assert mismatches == [
        Mismatch(
            f"lead purchase {purchase.id}",
            purchase.payment_intent_id,
            "amount transferred",
            8_550,
            4_275,
        )
    ]


def test_a_charge_whose_webhook_never_arrived_is_charged_at_stripe_but_not_paid_here(
    app,
    db,
    standin,
    market,  # noqa: F811
):
    lead = market.list()
    standin.send_webhooks_to(None)  # Stripe's events are lost from here on
    market.browser(market.buyer).post_form(
        f"/leads/{lead.id}/buy", {"method": "saved_card"}, page=f"/leads/{lead.id}"
    )
    purchase = eventually(
        lambda: (p := fresh(db, LeadPurchase)) and p.payment_intent_id and p, what="charge sent"
    )

    checked, [mismatch] = reconciled(app, db)

    assert mismatch.subject == f"lead purchase {purchase.id}"
    assert mismatch.problem.startswith("charged at Stripe but reserved here")
    assert (mismatch.ledger_cents, mismatch.stripe_cents) == (0, 4_500)


def test_a_refund_made_at_stripe_and_never_booked_is_listed_by_the_cli(
    app,
    db,
    standin,
    market,  # noqa: F811
):
    purchase = bought(app, db, market)
    standin.send_webhooks_to(None)
    standin.client().v1.refunds.create(
        params={
            "payment_intent": purchase.payment_intent_id,
            "reverse_transfer": True,
            "refund_application_fee": True,
        }
    )

    result = app.test_cli_runner().invoke(args=["reconcile"])

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "1 settlement(s) and lead purchase(s) checked, 2 mismatch(es).",
        f"  lead purchase {purchase.id} {purchase.charge_id}: amount refunded"
        " (the purchase is paid here) (ledger $0.00, Stripe $45.00)",
        f"  lead purchase {purchase.id} {purchase.charge_id}: refund not booked in the ledger"
        " (ledger $0.00, Stripe $45.00)",
        "Money invariants: 0 violation(s).",
    ]
