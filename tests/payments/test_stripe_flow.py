"""The whole money path through the Stripe stand-in and its signed webhooks:
connect an Express account, save a card, win a referral, settle, get paid."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from referral.auth.models import User
from referral.commissions.models import Commission
from referral.ledger.services import balance, transaction_sums
from referral.payments.models import ConnectedAccount
from referral.settlements.models import Settlement
from tests.support.factories import partner_up, percent, won_referral
from tests.support.payments import eventually
from tests.support.stripe_pages import browser_of, connect_stripe, fresh, save_card


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


def every_balance_is_zero(db: Session, **but: int) -> None:
    from referral.ledger.models import ACCOUNTS

    for account in ACCOUNTS:
        assert balance(db, account) == but.get(account, 0), account
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
    # Stripe kept its 15.00 dispute fee: the platform bears it.
    every_balance_is_zero(db, stripe_balance=-1_500, dispute_fees=1_500)


def test_a_refund_during_a_lost_dispute_is_netted_into_the_reversal(
    app, db, standin, plumber, owed, paid
):
    """The refund reported during the dispute is a clawback of $40.00 on the
    held commission; the lost dispute voids the commission whole, so nothing
    is left owed either way and nothing is stranded."""
    from referral.commissions.services import outstanding_cents, report_refund
    from referral.settlements.invariants import check_invariants

    dispute = standin.open_dispute(paid.charge_id)
    eventually(lambda: fresh(db, Settlement).status == "disputed", what="disputed")
    with app.app_context():
        report_refund(
            session=db, business_id=plumber.business_id, referral_id=owed.id, refund_cents=40_000
        )
        db.commit()
    assert outstanding_cents(fresh(db, Commission)) == -4_000

    standin.close_dispute(dispute["id"], "lost")

    eventually(lambda: fresh(db, Settlement).status == "reversed", what="reversed")
    commission = fresh(db, Commission)
    assert (commission.status, commission.settled_cents) == ("reversed", 0)
    assert outstanding_cents(commission) == 0
    every_balance_is_zero(db, stripe_balance=-1_500, dispute_fees=1_500)
    with app.app_context():
        assert check_invariants(db) == []


def test_an_operator_refund_reverses_once_even_when_the_webhook_comes_twice(app, db, standin, paid):
    from referral.payments.models import StripeEvent
    from referral.settlements.reversals import refund_settlement
    from tests.payments.signing import signed
    from tests.support.payments import WEBHOOK_SECRET

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
    from referral.payments.mismatches import find_mismatches

    with app.app_context():
        checked, mismatches = find_mismatches(db)

    assert (checked, mismatches) == (1, [])


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_after_a_dispute_the_platforms_stripe_balance_reconciles_to_the_cent(
    app, db, standin, paid, outcome
):
    """Stripe withdrew the $100.00 and its $15.00 fee; won, it gave the $100.00
    back. The ledger books each from the dispute's balance transactions."""
    from referral.ledger.models import LedgerTransaction
    from referral.payments.mismatches import find_mismatches
    from referral.settlements.invariants import check_invariants

    dispute = standin.open_dispute(paid.charge_id)
    eventually(lambda: fresh(db, Settlement).status == "disputed", what="disputed")
    standin.close_dispute(dispute["id"], outcome)
    eventually(
        lambda: fresh(db, Settlement).status == ("paid" if outcome == "won" else "reversed"),
        what="dispute closed",
    )

    [fee] = db.exec(select(LedgerTransaction).where(LedgerTransaction.kind == "dispute_fee")).all()
    assert fee.stripe_object_id.startswith("txn_")
    assert balance(db, "dispute_fees") == 1_500
    assert balance(db, "stripe_disputed") == 0
    # Won: the fee kept ($5.00) less the dispute fee; lost: the transfer and
    # fee came back, so only the dispute fee is gone.
    assert balance(db, "stripe_balance") == (500 - 1_500 if outcome == "won" else -1_500)
    with app.app_context():
        assert find_mismatches(db) == (1, [])
        assert check_invariants(db) == []


def test_reconciliation_lists_a_charge_whose_webhook_never_arrived(
    app, db, standin, live, hvac, plumber, owed
):
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
    from tests.payments.signing import event, signed
    from tests.support.payments import WEBHOOK_SECRET

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


def test_back_from_onboarding_the_account_is_fetched_without_waiting_for_a_webhook(
    app, db, standin, hvac
):
    client = browser_of(app, db, hvac)
    client.post_form("/payments/connect", {}, page="/payments")
    account = fresh(db, ConnectedAccount, business_id=hvac.business_id)
    standin.complete_onboarding(account.stripe_account_id)  # no webhook endpoint is listening

    response = client.get("/payments/connect/return")

    assert response.status_code == 302
    account = fresh(db, ConnectedAccount, business_id=hvac.business_id)
    assert (account.charges_enabled, account.payouts_enabled) == (True, True)
    assert "ready" in client.get("/payments").get_data(as_text=True)


def test_a_card_that_asks_for_authentication_waits_for_the_debtor_who_pays_once_on_stripe(
    app, db, standin, live, hvac, plumber, owed
):
    from referral.notifications.models import Notification

    connect_stripe(app, db, standin, hvac)
    save_card(app, db, standin, plumber, card="4000002760003184")  # 3-D Secure, every time
    browser_of(app, db, hvac).post_form("/settlements/run", {}, page="/settlements")

    settlement = eventually(
        lambda: (s := fresh(db, Settlement)) and s.status == "waiting" and s, what="waits"
    )
    assert settlement.waiting_reason == "debtor_authentication"
    [declined] = standin.client().v1.payment_intents.list().data
    assert declined.status == "requires_payment_method"
    assert declined.last_payment_error.code == "authentication_required"
    told = fresh(
        db, Notification, business_id=plumber.business_id, kind="settlement.authentication_required"
    )
    assert told is not None and told.link == "/payments#confirm-payment"
    debtor = browser_of(app, db, plumber)
    assert "Confirm payment on Stripe" in debtor.get("/payments").get_data(as_text=True)
    assert "Confirm payment" not in browser_of(app, db, hvac).get("/payments").get_data(
        as_text=True
    )

    first = debtor.post_form(f"/payments/settlements/{settlement.id}/confirm", {}, page="/payments")
    again = debtor.post_form(f"/payments/settlements/{settlement.id}/confirm", {}, page="/payments")
    assert first.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    session_id = re.search(r"/_standin/checkout/([^/?#]+)", first.headers["Location"]).group(1)
    assert standin.complete_checkout(session_id, "4000002760003184").status_code == 200

    paid = eventually(
        lambda: (s := fresh(db, Settlement)) and s.status == "paid" and s, what="paid"
    )
    intents = standin.client().v1.payment_intents.list().data
    [succeeded] = [i for i in intents if i.status == "succeeded"]
    assert paid.payment_intent_id == succeeded.id
    assert (succeeded.amount, succeeded.application_fee_amount) == (10_000, 500)
    assert (
        succeeded.transfer_data.destination
        == fresh(db, ConnectedAccount, business_id=hvac.business_id).stripe_account_id
    )
    assert fresh(db, Commission).status == "paid"
    assert set(transaction_sums(db).values()) == {0}
    assert "Confirm payment on Stripe" not in debtor.get("/payments").get_data(as_text=True)


@pytest.mark.parametrize("outcome", ["warning_closed", "prevented"])
def test_an_inquiry_holds_nothing_and_reverses_nothing(app, db, standin, paid, outcome):
    inquiry = standin.open_dispute(paid.charge_id, inquiry=True)
    handled(db, "charge.dispute.created")
    assert fresh(db, Settlement).status == "paid"
    assert fresh(db, Commission).status == "paid"

    standin.close_dispute(inquiry["id"], outcome)

    handled(db, "charge.dispute.closed")
    assert fresh(db, Settlement).status == "paid"
    assert fresh(db, Commission).status == "paid"
    charge = standin.client().v1.charges.retrieve(paid.charge_id)
    assert standin.client().v1.transfers.retrieve(charge.transfer).amount_reversed == 0
    assert balance(db, "platform_fees") == -500
    assert set(transaction_sums(db).values()) == {0}


def handled(db: Session, event_type: str) -> None:
    """Wait until the worker has applied (or ignored) the event of this type."""
    from referral.payments.models import StripeEvent

    eventually(
        lambda: (e := fresh(db, StripeEvent, type=event_type)) and e.status != "received",
        what=f"{event_type} handled",
    )
