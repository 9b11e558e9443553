"""The referral funnel: sent -> consented -> accepted -> won, overall and per
partner, with the conversion of each stage and where the funnel leaks most."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, case, func, select
from sqlmodel import Session

from referral.analytics.sql import (
    Period,
    in_period,
    median_column,
    median_of_values,
    median_parameters,
    period_parameters,
)
from referral.businesses.models import Business
from referral.db import seconds_between
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


def _sides(sent: bool) -> tuple[Any, Any]:
    """This business's column and its partner's, for referrals sent (or received)."""
    if sent:
        return Referral.sender_id, Referral.receiver_id
    return Referral.receiver_id, Referral.sender_id


def _scope(sent: bool, one_partner: bool) -> list[Any]:
    """The business's referrals in the period (with one partner): bound
    parameters `business_id`, the period's and `partner_id`."""
    mine, theirs = _sides(sent)
    where = [mine == bindparam("business_id"), *in_period(Referral.created_at)]
    if one_partner:
        where.append(theirs == bindparam("partner_id"))
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
    dialect = session.get_bind().dialect.name
    counts_sql, *medians_sql = _funnel_statements(
        dialect, direction == "sent", partner_id is not None
    )
    parameters = {"business_id": business_id, **period_parameters(period)}
    if partner_id is not None:
        parameters["partner_id"] = partner_id
    row = session.execute(counts_sql, parameters).one()
    if dialect == "sqlite":
        # Each median reads only its middle value(s), counted with the stages.
        def median(statement: Any, count: int) -> float | None:
            if not count:
                return None
            return float(session.execute(statement, parameters | median_parameters(count)).scalar())

        accept_median, win_median = medians_sql
        accept_s, win_s = median(accept_median, row.accept_n), median(win_median, row.win_n)
    else:
        accept_s = float(row.accept_s) if row.accept_s is not None else None
        win_s = float(row.win_s) if row.win_s is not None else None
    counts = {stage: int(getattr(row, stage) or 0) for stage in STAGES}
    return Funnel(
        counts=counts,
        median_hours_to_accept=accept_s / 3600 if accept_s is not None else None,
        median_hours_to_win=win_s / 3600 if win_s is not None else None,
    )


@functools.cache
def _funnel_statements(dialect: str, sent: bool, one_partner: bool) -> tuple[Any, ...]:
    """`funnel`'s statements, built once per shape. PostgreSQL: the counts and
    both medians in one pass. SQLite: the counts and how many times there are
    to take each median of, in one pass; then a statement per median."""
    where = _scope(sent, one_partner)
    to_accept = seconds_between(dialect, Referral.sent_at, Referral.accepted_at)
    to_win = seconds_between(dialect, Referral.sent_at, Referral.closed_at)
    # The rows with a time to accept (to win): both ends known.
    accepted = and_(Referral.accepted_at.is_not(None), Referral.sent_at.is_not(None))
    won = and_(
        Referral.status == ReferralStatus.WON,
        Referral.closed_at.is_not(None),
        Referral.sent_at.is_not(None),
    )
    if dialect == "sqlite":
        counts = select(
            *_stage_counts(),
            func.count(case((accepted, 1))).label("accept_n"),
            func.count(case((won, 1))).label("win_n"),
        ).where(*where)
        return (
            counts,
            median_of_values(select(to_accept).where(*where, accepted)),
            median_of_values(select(to_win).where(*where, won)),
        )
    return (
        select(
            *_stage_counts(),
            median_column(to_accept, accepted).label("accept_s"),
            median_column(to_win, won).label("win_s"),
        ).where(*where),
    )


def funnel_by_partner(
    session: Session, business_id: int, *, direction: str = "sent", period: Period
) -> list[PartnerFunnel]:
    """One funnel per partner, in one grouped query (medians: open a partner)."""
    rows = session.execute(
        _by_partner_statement(direction == "sent"),
        {"business_id": business_id, **period_parameters(period)},
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


@functools.cache
def _by_partner_statement(sent: bool) -> Any:
    """`funnel_by_partner`'s statement, built once per direction."""
    _mine, theirs = _sides(sent)
    per_partner = (
        select(theirs.label("partner_id"), *_stage_counts())
        .where(*_scope(sent, one_partner=False))
        .group_by(theirs)
        .subquery("per_partner")
    )
    # Names for each partner once, not for every referral.
    return (
        select(per_partner, Business.name)
        .join(Business, Business.id == per_partner.c.partner_id)
        .order_by(per_partner.c.sent.desc(), Business.name)
    )
