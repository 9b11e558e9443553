"""Money properties, for any mix of terms, job values, corrections, refunds and
netting: every ledger transaction balances to the cent, a paid settlement
leaves nothing owed either way, the platform keeps exactly its fees, and every
amount is an integer."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import Session, select

from referral.commissions import services as commissions
from referral.commissions.models import Commission
from referral.ledger.models import LedgerEntry, LedgerTransaction
from referral.ledger.services import balance
from referral.partnerships.terms import TermsOffer
from referral.payments.gateway import PaymentState
from referral.settlements import services as settlements
from referral.settlements.models import SETTLED, Settlement, SettlementLine
from tests.support.factories import business, partner_up, won_referral

pytestmark = pytest.mark.usefixtures("app_context")

_pairs = itertools.count(1)

terms = st.one_of(
    st.builds(
        lambda bps, cap: TermsOffer(basis="percent", rate_bps=bps, cap_cents=cap, hold_days=0),
        st.integers(1, 5000),
        st.one_of(st.none(), st.integers(1, 1_000_000)),
    ),
    st.builds(
        lambda fee: TermsOffer(basis="flat_per_won", flat_fee_cents=fee, hold_days=0),
        st.integers(1, 1_000_000),
    ),
)
# One job: who referred it (a or b), its value, a correction, and refunds as
# fractions (in thousandths) of what is left.
job = st.tuples(
    st.sampled_from("ab"),
    st.integers(0, 5_000_000),
    st.one_of(st.none(), st.integers(0, 5_000_000)),
    st.lists(st.integers(1, 1000), max_size=2),
)


def paid(settlement: Settlement) -> PaymentState:
    return PaymentState(
        payment_intent_id=f"pi_{settlement.id}",
        status="succeeded",
        amount_cents=settlement.net_cents,
        currency="USD",
        charge_id=f"ch_{settlement.id}",
        metadata={"settlement_id": str(settlement.id), "attempt": str(settlement.attempts)},
    )


def settle(db: Session, partnership_id: int) -> Settlement | None:
    [partnership] = [p for p in [db.get(settlements.Partnership, partnership_id)] if p is not None]
    settlement = settlements.build_settlement(db, partnership)
    if settlement is not None and settlement.status == "open":
        settlement.attempts = 1
        settlement.status = "processing"
        assert settlements.apply_payment(db, paid(settlement)) == "applied: paid"
    return settlement


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    a_pays=terms,
    b_pays=terms,
    jobs=st.lists(job, min_size=1, max_size=4),
    fee_bps=st.integers(0, 3000),
)
def test_any_mix_of_terms_refunds_and_netting_balances_to_the_cent(
    app, db: Session, a_pays, b_pays, jobs, fee_bps
):
    app.config["PLATFORM_FEE_BPS"] = fee_bps
    app.config["SETTLEMENT_MINIMUM_CENTS"] = 1
    n = next(_pairs)
    a = business(db, f"HVAC {n}", "hvac", "78701", f"a{n}@hvac.example")
    b = business(db, f"Plumbing {n}", "plumbing", "78704", f"b{n}@plumbing.example")
    partnership = partner_up(db, a, b, a_pays=a_pays, b_pays=b_pays)
    by_name = {"a": a, "b": b}

    fees = 0
    for round_of_jobs in (jobs[: len(jobs) // 2 + 1], jobs[len(jobs) // 2 + 1 :]):
        for sender_name, value, corrected, refunds in round_of_jobs:
            sender = by_name[sender_name]
            receiver = b if sender is a else a
            referral = won_referral(db, sender, receiver, value)
            if corrected is not None:
                commissions.correct_job_value(
                    session=db,
                    business_id=receiver.business_id,
                    referral_id=referral.id,
                    job_value_cents=corrected,
                )
            for thousandths in refunds:
                left = referral.job_value_cents - (
                    commissions.won_commission(db, referral.id).refunded_cents
                )
                refund = left * thousandths // 1000
                if refund > 0:
                    commissions.report_refund(
                        session=db,
                        business_id=receiver.business_id,
                        referral_id=referral.id,
                        refund_cents=refund,
                    )
        settlement = settle(db, partnership.id)
        if settlement is not None and settlement.status == "paid":
            fees += settlement.platform_fee_cents
            assert settlement.net_cents == abs(
                settlement.debtor_owed_cents - settlement.creditor_owed_cents
            )
        db.commit()

    sums = db.exec(
        select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount_cents))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.partnership_id == partnership.id)
        .group_by(LedgerEntry.transaction_id)
    ).all()
    assert all(total == 0 for _, total in sums)
    for side in (a, b):
        for account in ("receivable", "payable", "pending_receivable", "pending_payable"):
            assert balance(db, account, business_id=side.business_id) == 0, account
    assert -balance(db, "platform_fees", partnership_id=partnership.id) == fees
    assert balance(db, "stripe_balance", partnership_id=partnership.id) == fees
    for commission in db.exec(
        select(Commission).where(Commission.partnership_id == partnership.id)
    ).all():
        assert type(commission.amount_cents) is int
        assert commissions.outstanding_cents(commission) == 0
        # The kept sum agrees with the settlement lines it stands for.
        assert (
            commission.settled_cents
            == db.exec(
                select(func.coalesce(func.sum(SettlementLine.amount_cents), 0))
                .join(Settlement, Settlement.id == SettlementLine.settlement_id)
                .where(
                    SettlementLine.commission_id == commission.id,
                    Settlement.status.in_(SETTLED),
                )
            ).one()
        )
        assert commission.status == "paid" or commission.amount_cents == 0
