"""A stateful property test of the money: hypothesis drives partnerships through
random interleavings of referrals, wins, corrections, refunds, holds,
settlements, card declines, disputes, refunds after payment and Stripe's
webhooks delivered late, twice or out of order, and checks the money
invariants (referral/settlements/invariants.py, docs/money.md) after every step.

The app's own services run in-process; the money moves at the Stripe stand-in
(charges, transfers, reversals, refunds, disputes), whose webhooks are not sent
by it but held here and delivered, signed, to the app's webhook endpoint when
the test decides. The suite runs a few examples (MONEY_MACHINE_EXAMPLES,
default 4). The long run, bounded by time rather than by a count, runs batches
of examples until its minutes are spent and prints how many it tried
(docs/money.md):

    MONEY_MACHINE_MINUTES=20 MONEY_MACHINE_STEPS=40 \
        pytest tests/payments/test_money_machine.py -k sqlite
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import time
from typing import Any

import pytest
import requests
from flask import Flask
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlmodel import Session, select

from referral.commissions import services as commissions
from referral.db import utcnow
from referral.partnerships.models import Partnership
from referral.partnerships.terms import TermsOffer
from referral.payments.models import BillingProfile
from referral.referrals import services as referrals
from referral.settlements import reversals
from referral.settlements import services as settlements
from referral.settlements.invariants import check_invariants
from referral.settlements.models import Settlement
from tests.payments.signing import event as stripe_event
from tests.payments.signing import signed
from tests.support.factories import accepted_referral, business, partner_up
from tests.support.jobs import run_jobs
from tests.support.payments import WEBHOOK_SECRET, connect_onboarded_account, save_card
from tests.support.stripe_standin import StripeStandIn

EXAMPLES = int(os.environ.get("MONEY_MACHINE_EXAMPLES", "4"))
STEPS = int(os.environ.get("MONEY_MACHINE_STEPS", "25"))
# The long run: batches of LONG_BATCH examples (each batch a fresh hypothesis
# run with its own seed) until this many minutes are spent; 0 for the suite's run.
MINUTES = float(os.environ.get("MONEY_MACHINE_MINUTES", "0"))
LONG_BATCH = int(os.environ.get("MONEY_MACHINE_BATCH", "10"))
DECLINING_CARD = {"number": "4000000000000341", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
TRADES = (("hvac", "78701"), ("plumbing", "78704"), ("electrical", "78702"))

terms = st.one_of(
    st.builds(
        lambda bps, cap, hold: TermsOffer(
            basis="percent", rate_bps=bps, cap_cents=cap, hold_days=hold
        ),
        st.integers(1, 3000),
        st.one_of(st.none(), st.integers(100, 50_000)),
        st.sampled_from([0, 0, 14]),
    ),
    st.builds(
        lambda fee, hold: TermsOffer(basis="flat_per_won", flat_fee_cents=fee, hold_days=hold),
        st.integers(100, 20_000),
        st.sampled_from([0, 14]),
    ),
    st.builds(
        lambda fee: TermsOffer(basis="flat_per_accepted", flat_fee_cents=fee, hold_days=0),
        st.integers(100, 5_000),
    ),
)
pick = st.integers(0, 10_000)
_worlds = itertools.count(1)
_events = itertools.count(1)
# What the long run reports: examples begun (worlds made) and invariant checks
# (one after each example's world is made, then one after every step).
tally = {"examples": 0, "checks": 0}


class MoneyMachine(RuleBasedStateMachine):
    """One world per example: two or three businesses, each onboarded at the
    stand-in with a saved card, and the partnerships between them."""

    app: Flask
    db: Session
    standin: StripeStandIn

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[dict[str, Any]] = []  # events Stripe has sent, not delivered yet
        self.delivered: list[dict[str, Any]] = []
        self.accepted: list[tuple[Any, Any, int]] = []  # (sender, receiver, referral id)
        self.won: list[tuple[Any, Any, int]] = []
        self.answered: set[str] = set()  # PaymentIntents whose outcome is held
        self.partnership_ids: list[int] = []
        self.disputes: dict[int, dict[str, Any]] = {}  # settlement id -> open dispute
        self.closed_disputes: set[int] = set()
        self.refunded: set[int] = set()  # settlements refunded at Stripe

    # --- the world ------------------------------------------------------------------

    @initialize(
        size=st.sampled_from([2, 3]),
        offers=st.lists(terms, min_size=6, max_size=6),
    )
    def world(self, size: int, offers: list[TermsOffer]) -> None:
        n = next(_worlds)
        tally["examples"] += 1
        db, standin = self.db, self.standin
        self.businesses = []
        self.cards: dict[int, tuple[str, str]] = {}
        for trade, zip_code in TRADES[:size]:
            who = business(db, f"{trade} {n}", trade, zip_code, f"{trade}{n}@example.com")
            connect_onboarded_account(db, standin, who.business_id)
            good = save_card(db, standin, who.business_id, f"{trade}{n}@example.com")
            bad = standin.client().v1.payment_methods.create(
                params={"type": "card", "card": DECLINING_CARD}
            )
            standin.client().v1.payment_methods.attach(
                bad.id, params={"customer": good.stripe_customer_id}
            )
            self.cards[who.business_id] = (good.payment_method_id or "", bad.id)
            self.businesses.append(who)
        db.commit()
        self.partnerships = []
        for i, (a, b) in enumerate(itertools.combinations(self.businesses, 2)):
            partnership = partner_up(db, a, b, a_pays=offers[2 * i], b_pays=offers[2 * i + 1])
            self.partnerships.append((a, b))
            self.partnership_ids.append(partnership.id)

    # --- referrals and jobs ------------------------------------------------------------

    @rule(which=pick, forward=st.booleans())
    def send_consent_and_accept(self, which: int, forward: bool) -> None:
        a, b = self.partnerships[which % len(self.partnerships)]
        sender, receiver = (a, b) if forward else (b, a)
        referral = accepted_referral(self.db, sender, receiver)
        self.accepted.append((sender, receiver, referral.id))

    @precondition(lambda self: self.accepted)
    @rule(which=pick, value=st.integers(0, 500_000))
    def won_job(self, which: int, value: int) -> None:
        self._won_job(self.accepted.pop(which % len(self.accepted)), value)

    @rule(which=pick, forward=st.booleans(), value=st.integers(0, 500_000))
    def referral_sent_accepted_and_won(self, which: int, forward: bool, value: int) -> None:
        self.send_consent_and_accept(which, forward)
        self._won_job(self.accepted.pop(), value)

    def _won_job(self, accepted: tuple[Any, Any, int], value: int) -> None:
        sender, receiver, referral_id = accepted
        referrals.report_won(
            session=self.db,
            actor=receiver,
            referral_id=referral_id,
            job_value_cents=value,
            job_date=dt.date(2026, 11, 21),
        )
        self.db.commit()
        self.won.append((sender, receiver, referral_id))

    def _won(self, which: int) -> tuple[Any, Any]:
        _, receiver, referral_id = self.won[which % len(self.won)]
        return receiver, self.db.get(referrals.Referral, referral_id)

    @precondition(lambda self: self.won)
    @rule(which=pick, value=st.integers(0, 500_000))
    def correct_job_value(self, which: int, value: int) -> None:
        receiver, referral = self._won(which)
        commissions.correct_job_value(
            session=self.db,
            business_id=receiver.business_id,
            referral_id=referral.id,
            job_value_cents=max(value, referral.refunded_cents),
        )
        self.db.commit()

    @precondition(lambda self: self.won)
    @rule(which=pick, share=st.sampled_from([1, 250, 500, 1000]))
    def refund_the_customer(self, which: int, share: int) -> None:
        """A partial refund (a share in thousandths of what is left) or a full one."""
        receiver, referral = self._won(which)
        left = (referral.job_value_cents or 0) - referral.refunded_cents
        if left <= 0:
            return
        commissions.report_refund(
            session=self.db,
            business_id=receiver.business_id,
            referral_id=referral.id,
            refund_cents=max(1, left * share // 1000),
        )
        self.db.commit()

    @rule()
    def hold_passes(self) -> None:
        commissions.approve_due(self.db, now=utcnow() + dt.timedelta(days=30))
        self.db.commit()

    # --- settlements and cards -----------------------------------------------------

    @rule(which=pick, on_time=st.booleans())
    def settle_now(self, which: int, on_time: bool) -> None:
        who = self.businesses[which % len(self.businesses)]
        settlements.build_settlements(self.db, business_id=who.business_id)
        self.db.commit()
        self._work(on_time)

    @rule(on_time=st.booleans())
    def weekly_run(self, on_time: bool) -> None:
        """The scheduled run (settlements.jobs.run_settlements), for this world's
        partnerships only, so that one example cannot reach into another."""
        commissions.approve_due(self.db)
        for partnership_id in self.partnership_ids:
            settlements.build_settlement(self.db, self.db.get(Partnership, partnership_id))
        self.db.commit()
        self._work(on_time)

    @rule(which=pick, declines=st.booleans(), on_time=st.booleans())
    def card_changes(self, which: int, declines: bool, on_time: bool) -> None:
        """The business's saved card starts declining, or a working card is saved
        (which retries the settlements declined on the old one)."""
        who = self.businesses[which % len(self.businesses)]
        billing = self.db.exec(
            select(BillingProfile).where(BillingProfile.business_id == who.business_id)
        ).one()
        good, bad = self.cards[who.business_id]
        billing.payment_method_id = bad if declines else good
        if not declines:
            settlements.retry_waiting_for(self.db, debtor_id=who.business_id)
        self.db.commit()
        self._work(on_time)

    # --- Stripe's side -----------------------------------------------------------------

    def _settlement(self, which: int, *statuses: str) -> Settlement | None:
        found = self.db.exec(
            select(Settlement)
            .where(
                Settlement.status.in_(statuses),  # type: ignore[attr-defined]
                Settlement.partnership_id.in_(self.partnership_ids),  # type: ignore[attr-defined]
            )
            .order_by(Settlement.id)
        ).all()
        return found[which % len(found)] if found else None

    @rule(which=pick, on_time=st.booleans())
    def dispute_opened(self, which: int, on_time: bool) -> None:
        settlement = self._settlement(which, "paid")
        if settlement is None or settlement.id in self.disputes or not settlement.charge_id:
            return
        if settlement.id in self.closed_disputes or settlement.id in self.refunded:
            return
        event("dispute opened")
        dispute = self.standin.open_dispute(settlement.charge_id)
        self.disputes[settlement.id] = dispute
        self._sent("charge.dispute.created", dispute, on_time)

    @precondition(lambda self: self.disputes)
    @rule(
        which=pick,
        outcome=st.sampled_from(["won", "lost", "warning_closed"]),
        on_time=st.booleans(),
    )
    def dispute_closed(self, which: int, outcome: str, on_time: bool) -> None:
        settlement_id = sorted(self.disputes)[which % len(self.disputes)]
        dispute = self.disputes.pop(settlement_id)
        self.closed_disputes.add(settlement_id)
        event(f"dispute closed {outcome}")
        if outcome == "warning_closed":
            # An inquiry closed with a warning (the stand-in's disputes are
            # won or lost): nothing moves.
            closed = {**dispute, "status": "warning_closed"}
        else:
            closed = self.standin.close_dispute(dispute["id"], outcome)
        self._sent("charge.dispute.closed", closed, on_time)

    @rule(which=pick, on_time=st.booleans())
    def refund_after_payment(self, which: int, on_time: bool) -> None:
        """The operator refunds a paid settlement in full at Stripe."""
        settlement = self._settlement(which, "paid")
        if settlement is None or settlement.id in self.disputes or settlement.charge_id is None:
            return
        if settlement.id in self.closed_disputes or settlement.id in self.refunded:
            return
        self.refunded.add(settlement.id)
        event("refund after payment")
        reversals.refund_settlement(self.db, settlement.id)
        self.db.commit()
        charge = self._stripe(f"/v1/charges/{settlement.charge_id}")
        self._sent("charge.refunded", charge, on_time)

    @rule(which=pick)
    def transfer_reversed_event(self, which: int) -> None:
        """Stripe tells of a transfer (reversed or not); the app has no use for it."""
        settlement = self._settlement(which, "paid", "reversed", "disputed")
        if settlement is None or settlement.charge_id is None:
            return
        charge = self._stripe(f"/v1/charges/{settlement.charge_id}")
        if charge.get("transfer"):
            self._sent("transfer.reversed", self._stripe(f"/v1/transfers/{charge['transfer']}"))

    # --- webhooks: late, twice, out of order ------------------------------------------

    @precondition(lambda self: self.pending)
    @rule(which=pick)
    def webhook_delivered(self, which: int) -> None:
        """Any pending event, not only the oldest: late and out of order."""
        sent = self.pending.pop(which % len(self.pending))
        self._deliver(sent)
        self.delivered.append(sent)

    @precondition(lambda self: self.delivered)
    @rule(which=pick)
    def webhook_delivered_again(self, which: int) -> None:
        self._deliver(self.delivered[which % len(self.delivered)])

    # --- the checks ----------------------------------------------------------------------

    @invariant()
    def money_invariants_hold(self) -> None:
        tally["checks"] += 1
        self.db.expire_all()
        assert check_invariants(self.db) == []

    def teardown(self) -> None:
        """Stripe delivers everything in the end; the invariants still hold."""
        while self.pending:
            self._deliver(self.pending.pop(0))
        self.db.expire_all()
        assert check_invariants(self.db) == []
        # Once every event is in, only a dispute still open at Stripe holds money.
        disputed = self.db.exec(
            select(Settlement.id).where(
                Settlement.status == "disputed",
                Settlement.partnership_id.in_(self.partnership_ids),  # type: ignore[attr-defined]
            )
        ).all()
        assert set(disputed) <= set(self.disputes)

    # --- plumbing ---------------------------------------------------------------------

    def _stripe(self, path: str) -> dict[str, Any]:
        response = requests.get(
            self.standin.api_base + path,
            headers={"Authorization": "Bearer sk_test_standin"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def _sent(self, event_type: str, obj: dict[str, Any], on_time: bool = False) -> None:
        """Stripe sends an event: delivered now (on time) or held (late)."""
        sent = stripe_event(event_type, obj, event_id=f"evt_machine_{next(_events)}")
        if on_time:
            self._deliver(sent)
            self.delivered.append(sent)
        else:
            self.pending.append(sent)

    def _deliver(self, sent: dict[str, Any]) -> None:
        body, header = signed(sent, WEBHOOK_SECRET)
        response = self.app.test_client().post(
            "/stripe/webhook",
            data=body,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        self._work()

    def _work(self, on_time: bool = False) -> None:
        """Run the queued jobs (charges, events), then send the PaymentIntent
        events Stripe would now send (delivered now, or held)."""
        run_jobs(self.app)
        self.db.expire_all()
        intents = self.db.exec(
            select(Settlement.payment_intent_id).where(
                Settlement.partnership_id.in_(self.partnership_ids),  # type: ignore[attr-defined]
                Settlement.payment_intent_id.is_not(None),  # type: ignore[union-attr]
            )
        ).all()
        for intent_id in set(intents) - self.answered:
            intent = self._stripe(f"/v1/payment_intents/{intent_id}")
            if intent["status"] in ("succeeded", "requires_payment_method"):
                self.answered.add(intent_id)
            kind = {
                "succeeded": "payment_intent.succeeded",
                "requires_payment_method": "payment_intent.payment_failed",
            }.get(intent["status"])
            if kind:
                event(kind)
                self._sent(kind, intent, on_time)


@pytest.fixture
def machine_world(app: Flask, db: Session, standin: StripeStandIn):  # type: ignore[no-untyped-def]
    standin.send_webhooks_to(None)  # the machine delivers Stripe's events itself
    with app.app_context():
        MoneyMachine.app, MoneyMachine.db, MoneyMachine.standin = app, db, standin
        yield MoneyMachine


def test_money_never_strands_in_any_interleaving(machine_world, capsys) -> None:  # type: ignore[no-untyped-def]
    """The suite's run: EXAMPLES examples. With MONEY_MACHINE_MINUTES, the long
    run: batches until the minutes are spent (a batch under way finishes, so
    it overruns by at most one batch), then what it tried, on the terminal."""
    if not MINUTES:
        explore(machine_world, EXAMPLES)
        return
    started, batches = time.monotonic(), 0
    before = dict(tally)
    while time.monotonic() - started < MINUTES * 60:
        explore(machine_world, LONG_BATCH)
        batches += 1
    examples = tally["examples"] - before["examples"]
    steps = tally["checks"] - before["checks"] - examples
    with capsys.disabled():
        print(
            f"\nmoney machine, long run: {examples} examples in {batches} batches, "
            f"{steps} steps (at most {STEPS} per example), "
            f"{(time.monotonic() - started) / 60:.1f} minutes, failures: 0"
        )


def explore(machine, examples: int) -> None:  # type: ignore[no-untyped-def]
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
