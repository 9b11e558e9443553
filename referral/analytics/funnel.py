"""The referral funnel: sent -> consented -> accepted -> won, overall and per
partner, with the conversion of each stage and where the funnel leaks most."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlmodel import Session

from referral.analytics.sql import (
    Period,
    is_sqlite,
    median_column,
    median_of_values,
    seconds_between,
)
from referral.businesses.models import Business
from referral.money import Rate
from referral.referrals.models import Referral, ReferralStatus

STAGES = ("sent", "consented", "accepted", "won")
STAGE_LABELS = {
    "sent": "Sent",
    "consented": "Customer consented",
    "accepted": "Partner accepted",
    "won": "Job won",
}


@dataclass(frozen=True)
class Funnel:
    counts: dict[str, int]
    median_hours_to_accept: float | None
    median_hours_to_win: float | None

    def rate(self, stage: str) -> Rate:
        """Conversion into `stage` from the stage before it."""
        index = STAGES.index(stage)
        before = self.counts[STAGES[index - 1]] if index else self.counts[stage]
        return Rate(self.counts[stage], before)

    @property
    def overall(self) -> Rate:
        return Rate(self.counts["won"], self.counts["sent"])

    @property
    def leakiest_stage(self) -> str | None:
        """The stage that loses the largest share of what reaches it."""
        rates = {s: self.rate(s).fraction for s in STAGES[1:]}
        known = {s: r for s, r in rates.items() if r is not None}
        return min(known, key=lambda s: known[s]) if known else None


@dataclass(frozen=True)
class PartnerFunnel:
    partner_id: int
    partner_name: str
    funnel: Funnel


def _stage_counts():  # type: ignore[no-untyped-def]
    return (
        func.count().label("sent"),
        func.sum(case((Referral.sent_at.is_not(None), 1), else_=0)).label("consented"),
        func.sum(case((Referral.accepted_at.is_not(None), 1), else_=0)).label("accepted"),
        func.sum(case((Referral.status == ReferralStatus.WON, 1), else_=0)).label(
            ReferralStatus.WON
        ),
    )


def _scope(business_id: int, direction: str, period: Period, partner_id: int | None) -> list:  # type: ignore[type-arg]
    mine = Referral.sender_id if direction == "sent" else Referral.receiver_id
    theirs = Referral.receiver_id if direction == "sent" else Referral.sender_id
    where = [
        mine == business_id,
        *period.holds(Referral.created_at),
    ]
    if partner_id is not None:
        where.append(theirs == partner_id)
    return where


def funnel(
    session: Session,
    business_id: int,
    *,
    direction: str = "sent",
    period: Period,
    partner_id: int | None = None,
) -> Funnel:
    """Referrals this business sent (or received) in the period, stage by stage."""
    where = _scope(business_id, direction, period, partner_id)
    to_accept = seconds_between(session, Referral.sent_at, Referral.accepted_at)
    to_win = seconds_between(session, Referral.sent_at, Referral.closed_at)
    # The rows with a time to accept (to win): both ends known.
    accepted = and_(Referral.accepted_at.is_not(None), Referral.sent_at.is_not(None))
    won = and_(
        Referral.status == ReferralStatus.WON,
        Referral.closed_at.is_not(None),
        Referral.sent_at.is_not(None),
    )
    if is_sqlite(session):
        # The counts, and how many times there are to take the median of, in one
        # pass; then each median reads only its middle value(s) in order.
        row = session.execute(
            select(
                *_stage_counts(),
                func.count(case((accepted, 1))).label("accept_n"),
                func.count(case((won, 1))).label("win_n"),
            ).where(*where)
        ).one()

        def times(value, *also):  # type: ignore[no-untyped-def]
            return select(value).where(*where, *also)

        accept_s = median_of_values(session, times(to_accept, accepted), row.accept_n)
        win_s = median_of_values(session, times(to_win, won), row.win_n)
    else:  # the counts and both medians in one pass
        row = session.execute(
            select(
                *_stage_counts(),
                median_column(to_accept, accepted).label("accept_s"),
                median_column(to_win, won).label("win_s"),
            ).where(*where)
        ).one()
        accept_s = float(row.accept_s) if row.accept_s is not None else None
        win_s = float(row.win_s) if row.win_s is not None else None
    counts = {stage: int(getattr(row, stage) or 0) for stage in STAGES}
    return Funnel(
        counts=counts,
        median_hours_to_accept=accept_s / 3600 if accept_s is not None else None,
        median_hours_to_win=win_s / 3600 if win_s is not None else None,
    )


def funnel_by_partner(
    session: Session, business_id: int, *, direction: str = "sent", period: Period
) -> list[PartnerFunnel]:
    """One funnel per partner, in one grouped query (medians: open a partner)."""
    theirs = Referral.receiver_id if direction == "sent" else Referral.sender_id
    per_partner = (
        select(theirs.label("partner_id"), *_stage_counts())
        .where(*_scope(business_id, direction, period, None))
        .group_by(theirs)
        .subquery("per_partner")
    )
    # Names for each partner once, not for every referral.
    rows = session.execute(
        select(per_partner, Business.name)
        .join(Business, Business.id == per_partner.c.partner_id)
        .order_by(per_partner.c.sent.desc(), Business.name)
    ).all()
    return [
        PartnerFunnel(
            partner_id=row.partner_id,
            partner_name=row.name,
            funnel=Funnel(
                counts={stage: int(getattr(row, stage) or 0) for stage in STAGES},
                median_hours_to_accept=None,
                median_hours_to_win=None,
            ),
        )
        for row in rows
    ]
