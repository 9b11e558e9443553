"""Trust signals shown with a possible partner (referral/referrals/trust.py):
over the referrals it received in the last year, how often it accepts and
wins, and the median time it took to answer its latest 500."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session

from referral.customers.services import create_customer
from referral.db import utcnow
from referral.partnerships.trust import TrustSignals, trust_signals
from referral.referrals import services, trust
from referral.referrals.models import Referral
from tests.support.factories import refer

pytestmark = pytest.mark.usefixtures("app_context")


def answered_in(db: Session, hvac: Any, plumber: Any, hours: float, *, accept: bool = True) -> None:
    """A referral from `hvac` that `plumber` answered `hours` after it was sent."""
    number = db.info["referred"] = db.info.get("referred", 0) + 1
    customer = create_customer(
        session=db,
        business_id=hvac.business_id,
        data={"name": f"Customer {number}", "email": f"customer{number}@example.com"},
    )
    db.commit()
    referral = refer(db, hvac, plumber, customer.id, consent_method="attested_phone")
    answer = services.accept_referral if accept else services.decline_referral
    answer(session=db, actor=plumber, referral_id=referral.id)
    sent = utcnow() - dt.timedelta(days=3)
    answered = sent + dt.timedelta(hours=hours)
    db.execute(
        update(Referral)
        .where(Referral.id == referral.id)  # type: ignore[arg-type]
        .values(
            sent_at=sent,
            accepted_at=answered if accept else None,
            closed_at=None if accept else answered,
        )
    )
    db.commit()


def signals_of(db: Session, partner: Any) -> TrustSignals:
    return trust_signals(db, [partner.business_id])[partner.business_id]


def test_the_median_answer_time_is_the_middle_answer_or_the_mean_of_the_middle_two(
    db: Session, hvac: Any, plumber: Any
) -> None:
    for hours in (10, 1):
        answered_in(db, hvac, plumber, hours)
    answered_in(db, hvac, plumber, 3, accept=False)

    assert signals_of(db, plumber) == TrustSignals(
        received=3, acceptance_rate=2 / 3, win_rate=None, median_answer_hours=3.0
    )

    answered_in(db, hvac, plumber, 5)

    assert signals_of(db, plumber).median_answer_hours == pytest.approx(4.0)


def test_only_the_latest_answers_make_the_median(
    db: Session, hvac: Any, plumber: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trust, "MAX_SAMPLES", 2)
    for hours in (100, 1, 3):  # the oldest first
        answered_in(db, hvac, plumber, hours)

    signals = signals_of(db, plumber)

    assert (signals.received, signals.median_answer_hours) == (3, pytest.approx(2.0))


def test_a_referral_not_answered_yet_counts_as_received_only(
    db: Session, hvac: Any, plumber: Any, customer_id: int
) -> None:
    refer(db, hvac, plumber, customer_id, consent_method="attested_phone")
    answered_in(db, hvac, plumber, 6)

    assert signals_of(db, plumber) == TrustSignals(
        received=2, acceptance_rate=1.0, win_rate=None, median_answer_hours=pytest.approx(6.0)
    )


def test_a_business_nobody_referred_to_has_no_signals(db: Session, hvac: Any) -> None:
    assert trust_signals(db, [hvac.business_id]) == {}
