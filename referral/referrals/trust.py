"""Trust signals of a business as a referral partner, computed from the
referrals it received: how fast it answers, how often it accepts, how often
accepted referrals turn into won jobs. Registered with partner discovery
(referral/partnerships/trust.py) on import; listed in referral/domains.py."""

from __future__ import annotations

import datetime as dt
import functools
import statistics
from typing import Any

from sqlalchemy import bindparam, case, func
from sqlmodel import Session, select

from referral.db import utcnow
from referral.partnerships.trust import TrustSignals, trust_source
from referral.referrals.models import Referral, ReferralStatus

WINDOW = dt.timedelta(days=365)
ANSWERED = (
    ReferralStatus.ACCEPTED,
    ReferralStatus.WON,
    ReferralStatus.LOST,
    ReferralStatus.DECLINED,
)
ACCEPTED = (ReferralStatus.ACCEPTED, ReferralStatus.WON, ReferralStatus.LOST)
MAX_SAMPLES = 500  # answer times per business used for the median


@functools.cache
def _statements() -> tuple[Any, Any]:
    """Built once with bound parameters: discovery runs these on every page."""
    ids = bindparam("ids", expanding=True)
    since = bindparam("since")
    counts = (
        select(
            Referral.receiver_id,
            func.count(),
            func.sum(case((Referral.status.in_(ANSWERED), 1), else_=0)),
            func.sum(case((Referral.status.in_(ACCEPTED), 1), else_=0)),
            func.sum(case((Referral.status == ReferralStatus.WON, 1), else_=0)),
            func.sum(case((Referral.status == ReferralStatus.LOST, 1), else_=0)),
        )
        .where(Referral.receiver_id.in_(ids), Referral.sent_at >= since)
        .group_by(Referral.receiver_id)
    )
    answers = (
        select(Referral.receiver_id, Referral.sent_at, Referral.accepted_at, Referral.closed_at)
        .where(
            Referral.receiver_id.in_(ids),
            Referral.sent_at >= since,
            Referral.status.in_(ANSWERED),
        )
        .order_by(Referral.id.desc())
        .limit(bindparam("limit"))
    )
    return counts, answers


@trust_source
def signals_from_referrals(session: Session, business_ids: list[int]) -> dict[int, TrustSignals]:
    """Signals for each business, over referrals it received in the last year."""
    if not business_ids:
        return {}
    counts, answers = _statements()
    params = {"ids": business_ids, "since": utcnow() - WINDOW}
    rows = session.execute(counts, params).all()
    if not rows:
        return {}
    answer_hours: dict[int, list[float]] = {}
    limit = MAX_SAMPLES * len(business_ids)
    for receiver_id, sent_at, accepted_at, closed_at in session.execute(
        answers, {**params, "limit": limit}
    ):
        answered_at = accepted_at or closed_at
        if sent_at and answered_at:
            answer_hours.setdefault(receiver_id, []).append(
                (answered_at - sent_at).total_seconds() / 3600
            )
    signals = {}
    for receiver_id, received, n_answered, n_accepted, n_won, n_lost in rows:
        hours = answer_hours.get(receiver_id)
        decided = (n_won or 0) + (n_lost or 0)
        signals[receiver_id] = TrustSignals(
            received=received,
            acceptance_rate=(n_accepted / n_answered) if n_answered else None,
            win_rate=(n_won / decided) if decided else None,
            median_answer_hours=statistics.median(hours) if hours else None,
        )
    return signals
