"""Every dashboard figure checked against a known history (see conftest.py),
to the cent and to the exact fraction, and against the ledger."""

from __future__ import annotations

from fractions import Fraction

import pytest
from sqlmodel import select

from referral.analytics import funnel, lifetime, partners, platform, trends
from referral.analytics.sql import Period
from referral.db import utcnow
from referral.ledger.services import balance
from referral.referrals.models import Referral
from referral.settlements import services as settlements
from tests.support.settlements import payment

pytestmark = pytest.mark.usefixtures("app_context")


def this_year() -> Period:
    return Period.last_months(12, today=utcnow().date())


def test_the_funnel_of_referrals_sent(db, history):
    result = funnel.funnel(db, history.hvac.business_id, direction="sent", period=this_year())

    assert result.counts == {"sent": 6, "consented": 5, "accepted": 4, "won": 2}
    assert [result.rate(s).fraction for s in funnel.STAGES[1:]] == [
        Fraction(5, 6),
        Fraction(4, 5),
        Fraction(1, 2),
    ]
    assert result.overall.fraction == Fraction(1, 3)
    assert result.leakiest_stage == "won"
    assert result.median_hours_to_accept == pytest.approx(5.0)  # 2, 4, 6, 10 hours
    assert result.median_hours_to_win == pytest.approx(40.0)  # 30, 50 hours


def test_the_funnel_of_referrals_received(db, history):
    result = funnel.funnel(db, history.hvac.business_id, direction="received", period=this_year())

    assert result.counts == {"sent": 2, "consented": 2, "accepted": 1, "won": 1}
    assert result.median_hours_to_accept == pytest.approx(1.0)


def test_the_funnel_with_one_partner_each_way(db, history):
    hvac, plumber = history.hvac.business_id, history.plumber.business_id

    sent = funnel.funnel(db, hvac, direction="sent", period=this_year(), partner_id=plumber)
    received = funnel.funnel(db, hvac, direction="received", period=this_year(), partner_id=plumber)

    assert sent.counts == {"sent": 4, "consented": 3, "accepted": 2, "won": 1}
    assert sent.median_hours_to_accept == pytest.approx(3.0)  # 2, 4 hours
    assert sent.median_hours_to_win == pytest.approx(50.0)
    assert received.counts == {"sent": 2, "consented": 2, "accepted": 1, "won": 1}
    assert received.median_hours_to_accept == pytest.approx(1.0)
    assert received.median_hours_to_win == pytest.approx(20.0)


def test_the_funnel_per_partner(db, history):
    rows = funnel.funnel_by_partner(db, history.hvac.business_id, period=this_year())

    assert {r.partner_name: r.funnel.counts for r in rows} == {
        "Drip Plumbing": {"sent": 4, "consented": 3, "accepted": 2, "won": 1},
        "Spark Electric": {"sent": 2, "consented": 2, "accepted": 2, "won": 1},
    }


def test_money_per_partner_ranked_by_value(db, history):
    values = partners.partner_values(db, history.hvac.business_id, period=this_year())

    plumber, electric = values
    assert plumber.partner_name == "Drip Plumbing"
    assert (plumber.jobs_won, plumber.revenue_cents) == (1, 300_000)
    assert (plumber.earned_cents, plumber.owed_cents, plumber.net_cents) == (
        10_000,
        30_000,
        -20_000,
    )
    assert plumber.revenue_per_commission.fraction == 10
    assert plumber.value_cents == 280_000
    assert electric.partner_name == "Spark Electric"
    assert electric.earned_cents == 12_000  # $150 reduced pro rata by the $400 refund of $2,000
    assert electric.revenue_per_commission.fraction is None
    assert electric.value_cents == 12_000


def test_settled_commissions_per_partner_agree_with_the_ledger(db, history):
    hvac = history.hvac.business_id
    [settlement] = [
        s for s in settlements.build_settlements(db) if s.partnership_id == history.p1.id
    ]
    settlement.attempts, settlement.status = 1, "processing"
    settlements.apply_payment(db, payment(settlement))
    db.commit()

    plumber, electric = partners.partner_values(db, hvac, period=this_year())

    assert (plumber.earned_settled_cents, plumber.owed_settled_cents) == (10_000, 30_000)
    assert balance(db, "payable", business_id=hvac, partnership_id=history.p1.id) == 0
    assert electric.earned_cents - electric.earned_settled_cents == -balance(
        db, "payable", business_id=hvac, partnership_id=history.p2.id
    )


def test_customer_lifetime_value_with_first_and_back_end_sales(db, history):
    hvac = history.hvac.business_id
    summary = lifetime.summary(db, hvac)
    ben, ana = lifetime.top_customers(db, hvac)  # most valuable first

    assert (summary.customers, summary.revenue_cents) == (2, 310_000)
    assert (summary.first_sale_cents, summary.back_end_cents) == (180_000, 130_000)
    assert summary.partner_cents == 260_000
    assert summary.back_end_share.fraction == Fraction(13, 31)
    assert summary.average.fraction == 155_000
    assert (ben.name, ben.lifetime_cents, ben.first_sale_cents) == ("Ben Ortiz", 160_000, 160_000)
    assert (ana.name, ana.sales, ana.lifetime_cents) == ("Ana Diaz", 3, 150_000)
    assert (ana.first_sale_cents, ana.back_end_cents, ana.partner_cents) == (
        20_000,
        130_000,
        100_000,
    )
    assert ana.chain == (("Drip Plumbing", "won"),)


def test_lifetime_value_by_trade(db, history):
    rows = {r.label: r for r in lifetime.by_trade(db, history.hvac.business_id)}

    assert {k: (r.customers, r.revenue_cents, r.first_sale_cents) for k, r in rows.items()} == {
        "Electrical": (1, 160_000, 160_000),
        "Plumbing": (1, 100_000, 0),
        "HVAC": (1, 50_000, 20_000),
    }


def test_a_business_without_sales_has_empty_lifetime_figures(db, history):
    figures = lifetime.figures(db, history.electric.business_id)  # no jobs, sent nothing

    assert figures.summary == lifetime.LifetimeSummary(0, 0, 0, 0, 0)
    assert (figures.by_trade, figures.by_month, figures.top_customers) == ([], [], [])


def test_monthly_trends(db, history):
    months = {
        m.month: m.figures for m in trends.monthly(db, history.hvac.business_id, period=this_year())
    }
    # Referrals and commissions were created now; the job won was closed days
    # ago, which early in a month is the month before.
    now = f"{utcnow():%Y-%m}"
    [won] = db.exec(
        select(Referral).where(
            Referral.receiver_id == history.hvac.business_id, Referral.status == "won"
        )
    ).all()
    won_month = f"{won.closed_at:%Y-%m}"

    assert len(months) == 12
    assert {k: months[now][k] for k in ("sent", "received", "earned_cents", "owed_cents")} == {
        "sent": 6,
        "received": 2,
        "earned_cents": 22_000,
        "owed_cents": 30_000,
    }
    assert (months[won_month]["won"], months[won_month]["revenue_cents"]) == (1, 300_000)
    assert sum(m["sent"] for m in months.values()) == 6
    assert sum(m["won"] for m in months.values()) == 1


def test_the_operator_sees_the_platform(db, history):
    figures = platform.platform_figures(db, period=this_year())

    assert (figures.businesses, figures.active_partnerships) == (3, 2)
    assert (figures.referrals, figures.referrals_won) == (8, 3)
    assert figures.gross_commission_cents == 10_000 + 12_000 + 30_000
