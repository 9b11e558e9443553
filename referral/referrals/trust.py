"""Trust signals of a business as a referral partner, computed from the
referrals it received: how fast it answers, how often it accepts, how often
accepted referrals turn into won jobs. Registered with partner discovery
(referral/partnerships/trust.py) on import; listed in referral/domains.py."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from sqlalchemy import Integer, bindparam, case, func
from sqlmodel import Session, select

from referral.db import seconds_between, utcnow
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
MAX_SAMPLES = 500  # a business's latest answer times used for its median


@functools.cache
def _statement(dialect: str) -> Any:
    """Each business's counts and median answer time in one statement, built
    once with bound parameters (discovery runs it on every page). The median
    is the database's: the answers were read into Python to take it, up to 500
    rows per business on the page, which made discovery grow slower with every
    referral its businesses had answered (20 -> 31 ms in a 10-minute soak)."""
    ids = bindparam("ids", expanding=True)
    since = bindparam("since")
    counts = (
        select(
            Referral.receiver_id.label("receiver_id"),
            func.count().label("received"),
            func.sum(case((Referral.status.in_(ANSWERED), 1), else_=0)).label("answered"),
            func.sum(case((Referral.status.in_(ACCEPTED), 1), else_=0)).label("accepted"),
            func.sum(case((Referral.status == ReferralStatus.WON, 1), else_=0)).label("won"),
            func.sum(case((Referral.status == ReferralStatus.LOST, 1), else_=0)).label("lost"),
        )
        .where(Referral.receiver_id.in_(ids), Referral.sent_at >= since)
        .group_by(Referral.receiver_id)
        .subquery("counts")
    )
    answered_at = func.coalesce(Referral.accepted_at, Referral.closed_at)
    latest = (
        select(
            Referral.receiver_id.label("receiver_id"),
            (seconds_between(dialect, Referral.sent_at, answered_at) / 3600.0).label("hours"),
            func.row_number()
            .over(partition_by=Referral.receiver_id, order_by=Referral.id.desc())
            .label("recency"),
        )
        .where(
            Referral.receiver_id.in_(ids),
            Referral.sent_at >= since,
            Referral.status.in_(ANSWERED),
            answered_at.is_not(None),
        )
        .subquery("latest")
    )
    ranked = (
        select(
            latest.c.receiver_id,
            latest.c.hours,
            func.row_number()
            .over(partition_by=latest.c.receiver_id, order_by=latest.c.hours)
            .label("position"),
            func.count().over(partition_by=latest.c.receiver_id).label("samples"),
        )
        .where(latest.c.recency <= bindparam("samples", type_=Integer))
        .subquery("ranked")
    )
    # The middle one of an odd number, the average of the middle two of an even one.
    medians = (
        select(ranked.c.receiver_id, func.avg(ranked.c.hours).label("hours"))
        .where(ranked.c.position.in_([(ranked.c.samples + 1) // 2, (ranked.c.samples + 2) // 2]))
        .group_by(ranked.c.receiver_id)
        .subquery("medians")
    )
    return select(counts, medians.c.hours).outerjoin(
        medians, medians.c.receiver_id == counts.c.receiver_id
    )


@trust_source
def signals_from_referrals(session: Session, business_ids: list[int]) -> dict[int, TrustSignals]:
    """Signals for each business, over referrals it received in the last year."""
    if not business_ids:
        return {}
    rows = session.execute(
        _statement(session.get_bind().dialect.name),
        {"ids": business_ids, "since": utcnow() - WINDOW, "samples": MAX_SAMPLES},
    )
    return {
        receiver_id: TrustSignals(
            received=received,
            acceptance_rate=(accepted / answered) if answered else None,
            win_rate=(won / (won + lost)) if won + lost else None,
            median_answer_hours=None if hours is None else float(hours),
        )
        for receiver_id, received, answered, accepted, won, lost, hours in rows
    }
