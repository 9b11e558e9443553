"""A seller's quality score, and the suspension a high dispute rate brings."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from sqlmodel import Session

from referral.db import utcnow
from referral.leads import quality
from referral.leads.models import Lead, LeadDispute, LeadPurchase
from tests.support.factories import business

pytestmark = pytest.mark.usefixtures("app_context")


def history(db: Session, outcomes: list[str | None], upheld: int):  # type: ignore[no-untyped-def]
    seller = business(db, "Cool Air HVAC", "hvac", "78701", "alex@coolair.example")
    buyer = business(db, "Drip Plumbing", "plumbing", "78704", "blair@drip.example")
    from referral.customers.services import create_customer

    customer = create_customer(session=db, business_id=seller.business_id, data={"name": "Ana"})
    db.flush()
    for n, outcome in enumerate(outcomes):
        lead = Lead(
            seller_id=seller.business_id,
            customer_id=customer.id,
            created_by_user_id=seller.user_id,
            trade_id=buyer.business.trade_id,
            need="x",
            urgency="flexible",
            zip_code="78704",
            latitude=30.2,
            longitude=-97.7,
            price_cents=1_000,
            exclusive=True,
            max_buyers=1,
            consent_method="attested_phone",
            status="sold_out",
            expires_at=utcnow() + dt.timedelta(days=1),
        )
        db.add(lead)
        db.flush()
        purchase = LeadPurchase(
            lead_id=lead.id,
            buyer_id=buyer.business_id,
            buyer_user_id=buyer.user_id,
            price_cents=1_000,
            platform_fee_cents=50,
            method="saved_card",
            status="paid",
            reserved_until=utcnow(),
            paid_at=utcnow(),
            outcome=outcome,
        )
        db.add(purchase)
        db.flush()
        if n < upheld:
            db.add(
                LeadDispute(
                    purchase_id=purchase.id,
                    lead_id=lead.id,
                    seller_id=seller.business_id,
                    buyer_id=buyer.business_id,
                    reason="dead_contact",
                    status="upheld",
                )
            )
    db.flush()
    return seller


def test_the_score_weighs_contact_and_win_rates_against_disputes(db):
    seller = history(db, ["won", "contacted", "no_answer", "lost", None], upheld=0)

    result = quality.seller_quality(db, seller.business_id)

    assert result.contact_rate.fraction == Fraction(3, 4)
    assert result.win_rate.fraction == Fraction(1, 4)
    assert result.dispute_rate.fraction == 0
    assert result.score == 55  # 60% x 3/4 + 40% x 1/4


def test_a_high_dispute_rate_suspends_listing_until_the_operator_reviews(db):
    seller = history(db, [None] * 5, upheld=2)

    assert quality.check_threshold(db, seller.business_id) is True
    assert quality.suspended(db, seller.business_id)
    assert quality.check_threshold(db, seller.business_id) is False  # once


def test_a_low_dispute_rate_or_too_few_sales_does_not_suspend(db):
    assert quality.check_threshold(db, history(db, [None] * 4, upheld=2).business_id) is False
