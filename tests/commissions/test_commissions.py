"""Commissions accrue from the terms locked on the referral, wait out the hold,
then are approved; corrections and refunds adjust them pro rata. Every change
is a balanced ledger transaction."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, select

from referral.commissions import services
from referral.commissions.models import Commission
from referral.db import utcnow
from referral.errors import DomainError, NotFound
from referral.ledger.services import balance, transaction_sums
from referral.notifications.models import Notification
from tests.support.factories import (
    accepted_referral,
    business,
    commission_of,
    flat,
    partner_up,
    percent,
    won_referral,
)

pytestmark = pytest.mark.usefixtures("app_context")


def balances(db: Session, business_id: int, *accounts: str) -> dict[str, int]:
    return {a: balance(db, a, business_id=business_id) for a in accounts}


def test_a_won_job_accrues_basis_points_of_its_value_rounded_half_up(db, hvac, plumber):
    partner_up(db, plumber, hvac, a_pays=percent(1000, hold_days=14), b_pays=percent(1000))
    referral = won_referral(db, hvac, plumber, 123_455)  # 10% is 12,345.5 cents

    commission = commission_of(db, referral)
    assert commission is not None
    assert (commission.amount_cents, commission.status) == (12_346, "pending")
    assert (commission.referrer_id, commission.payer_id) == (hvac.business_id, plumber.business_id)
    assert commission.terms_version_id == referral.terms_version_id
    assert commission.hold_until > utcnow() + dt.timedelta(days=13)
    assert balance(db, "pending_receivable", business_id=plumber.business_id) == 12_346
    assert balance(db, "pending_payable", business_id=hvac.business_id) == -12_346
    titles = db.exec(
        select(Notification.title).where(Notification.business_id == hvac.business_id)
    ).all()
    assert any("$123.46" in t for t in titles)


def test_the_cap_limits_a_percentage_commission(db, hvac, plumber):
    partner_up(db, plumber, hvac, a_pays=percent(2000, cap_cents=50_000), b_pays=percent(1000))
    referral = won_referral(db, hvac, plumber, 1_000_000)  # 20% would be $2,000

    assert commission_of(db, referral).amount_cents == 50_000


def test_a_flat_fee_per_won_job_ignores_the_value(db, hvac, plumber):
    partner_up(db, plumber, hvac, a_pays=flat(7_500), b_pays=percent(1000))
    referral = won_referral(db, hvac, plumber, 1_000_000)

    assert commission_of(db, referral).amount_cents == 7_500


def test_a_flat_fee_per_accepted_referral_accrues_on_acceptance_and_not_again_on_winning(
    db, hvac, plumber
):
    partner_up(db, plumber, hvac, a_pays=flat(2_500, per="accepted"), b_pays=percent(1000))
    referral = won_referral(db, hvac, plumber, 400_000)

    rows = db.exec(select(Commission).where(Commission.referral_id == referral.id)).all()
    assert [(c.trigger, c.amount_cents) for c in rows] == [("accepted", 2_500)]


def test_a_commission_is_approved_only_once_its_hold_has_passed(db, hvac, plumber):
    partner_up(db, plumber, hvac, a_pays=percent(1000, hold_days=7), b_pays=percent(1000))
    commission = commission_of(db, won_referral(db, hvac, plumber, 100_000))

    assert services.approve(db, commission) is False
    assert services.approve(db, commission, now=commission.hold_until) is True
    db.commit()

    assert commission.status == "approved"
    assert balances(db, plumber.business_id, "pending_receivable", "receivable") == {
        "pending_receivable": 0,
        "receivable": 10_000,
    }
    assert balances(db, hvac.business_id, "pending_payable", "payable") == {
        "pending_payable": 0,
        "payable": -10_000,
    }
    assert services.approve(db, commission, now=commission.hold_until) is False  # once


def test_a_business_settling_now_approves_only_its_own_due_commissions(db, hvac, plumber):
    electrician = business(db, "Spark Electric", "electrical", "78702", "cam@spark.example")
    partner_up(db, plumber, hvac, a_pays=percent(1000, hold_days=7), b_pays=percent(1000))
    partner_up(db, electrician, plumber, a_pays=percent(1000, hold_days=7), b_pays=percent(1000))
    hvacs = commission_of(db, won_referral(db, hvac, plumber, 100_000))
    electricians = commission_of(db, won_referral(db, plumber, electrician, 100_000))
    later = hvacs.hold_until + dt.timedelta(days=1)

    assert services.approve_due(db, business_id=hvac.business_id, now=later) == 1

    assert (hvacs.status, electricians.status) == ("approved", "pending")
    assert services.approve_due(db, now=later) == 1  # the weekly run takes the rest
    assert electricians.status == "approved"


def test_no_hold_means_approved_at_once(db, hvac, plumber):
    partner_up(db, plumber, hvac, a_pays=percent(1500), b_pays=percent(1000))
    assert commission_of(db, won_referral(db, hvac, plumber, 20_000)).status == "approved"


def test_correcting_the_job_value_recomputes_the_commission_and_posts_the_difference(
    db, hvac, plumber
):
    partner_up(db, plumber, hvac, a_pays=percent(1000, hold_days=3), b_pays=percent(1000))
    referral = won_referral(db, hvac, plumber, 100_000)

    services.correct_job_value(
        session=db, business_id=plumber.business_id, referral_id=referral.id, job_value_cents=80_000
    )
    db.commit()

    assert commission_of(db, referral).amount_cents == 8_000
    assert referral.job_value_cents == 80_000
    assert balance(db, "pending_receivable", business_id=plumber.business_id) == 8_000


@pytest.mark.parametrize(
    ("refunds", "expected"),
    [([25_000], 7_500), ([25_000, 75_000], 0), ([33_333], 6_667)],
)
def test_refunds_reduce_the_commission_pro_rata(db, hvac, plumber, refunds, expected):
    partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
    referral = won_referral(db, hvac, plumber, 100_000)

    for refund in refunds:
        services.report_refund(
            session=db,
            business_id=plumber.business_id,
            referral_id=referral.id,
            refund_cents=refund,
        )
    db.commit()

    assert commission_of(db, referral).amount_cents == expected
    assert balance(db, "receivable", business_id=plumber.business_id) == expected


def test_a_refund_of_a_job_without_a_won_commission_is_kept_on_the_referral(db, hvac, plumber):
    partner_up(db, plumber, hvac, a_pays=flat(2_500, per="accepted"), b_pays=percent(1000))
    referral = won_referral(db, hvac, plumber, 100_000)
    assert commission_of(db, referral, trigger="won") is None

    services.report_refund(
        session=db, business_id=plumber.business_id, referral_id=referral.id, refund_cents=40_000
    )
    db.commit()

    assert referral.refunded_cents == 40_000  # revenue from it is now $600.00
    with pytest.raises(DomainError) as refused:
        services.correct_job_value(
            session=db,
            business_id=plumber.business_id,
            referral_id=referral.id,
            job_value_cents=39_999,
        )
    assert "job_value_cents" in refused.value.errors


def test_a_refund_beyond_what_is_left_is_refused_and_changes_nothing(db, hvac, plumber):
    partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
    referral = won_referral(db, hvac, plumber, 100_000)

    with pytest.raises(DomainError) as refused:
        services.report_refund(
            session=db,
            business_id=plumber.business_id,
            referral_id=referral.id,
            refund_cents=100_001,
        )
    db.rollback()

    assert "refund_cents" in refused.value.errors
    assert commission_of(db, referral).refunded_cents == 0
    assert referral.refunded_cents == 0


def test_only_the_partner_that_did_the_job_changes_its_value(db, hvac, plumber):
    partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
    referral = won_referral(db, hvac, plumber, 100_000)

    with pytest.raises(DomainError):
        services.correct_job_value(
            session=db, business_id=hvac.business_id, referral_id=referral.id, job_value_cents=1
        )


def test_another_business_cannot_find_the_referral(db, hvac, plumber):
    from tests.support.factories import business

    stranger = business(db, "Green Lawns", "landscaping", "78702", "sam@green.example")
    partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
    referral = won_referral(db, hvac, plumber, 100_000)

    with pytest.raises(NotFound):
        services.report_refund(
            session=db, business_id=stranger.business_id, referral_id=referral.id, refund_cents=1
        )


def test_every_ledger_transaction_sums_to_zero(db, hvac, plumber):
    partner_up(db, plumber, hvac, a_pays=percent(1250, hold_days=2), b_pays=flat(3_000))
    for value in (99_999, 12_345, 7):
        referral = won_referral(db, hvac, plumber, value)
        services.report_refund(
            session=db,
            business_id=plumber.business_id,
            referral_id=referral.id,
            refund_cents=value // 3,
        )
    won_referral(db, plumber, hvac, 50_000)
    services.approve_due(db, now=utcnow() + dt.timedelta(days=3))
    db.commit()

    sums = transaction_sums(db)
    assert len(sums) == 10  # 4 accruals, 2 adjustments (one refund rounds away), 4 approvals
    assert set(sums.values()) == {0}


def test_an_accepted_referral_with_percentage_terms_owes_nothing_yet(db, hvac, plumber):
    partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
    assert commission_of(db, accepted_referral(db, hvac, plumber)) is None
