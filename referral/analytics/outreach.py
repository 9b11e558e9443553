"""Campaigns and follow-ups on the dashboard: for each campaign the business
sent and each follow-up rule it runs, how many emails went out, how many
customers unsubscribed through them, said yes to an offer, were referred to a
partner, and the jobs and revenue that came of it.

In a period, each counts as the other figures of the dashboard do: the
emails sent in it, the unsubscribes and the yeses (the referrals made) in
it, and the jobs won and their revenue by when they were closed (as the
partners' revenue and the monthly trends count them). A campaign or rule
with nothing in the period, and not started in it, is left out, as a
partner with no activity in it is left out of the partners' table.

Two statements whatever the number of campaigns and rules: one for the
campaigns and rules with their sent counts, and campaigns.services'
results_by_source (what each brought, the same counts their own pages show
for all of time).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, literal, select, union_all
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Session, col

from referral.analytics.sql import Period, in_period, period_parameters
from referral.campaigns.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    FollowUpRule,
    FollowUpSend,
    FollowUpStatus,
    RecipientStatus,
)
from referral.campaigns.services import NO_RESULTS, results_by_source
from referral.offers.models import SourceKind

KIND_LABELS = {SourceKind.CAMPAIGN.value: "Campaign", SourceKind.FOLLOW_UP.value: "Follow-up"}


@dataclass(frozen=True)
class OutreachResult:
    kind: str  # SourceKind: "campaign" or "follow_up"
    source_id: int
    name: str
    started: dt.datetime | None  # when the campaign started; when the rule was made
    sent: int
    unsubscribed: int
    said_yes: int  # clicked yes on an offer in it: a referral or an opportunity
    referrals_made: int
    won: int
    revenue_cents: int

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def counts_anything(self) -> bool:
        return any(
            (self.sent, self.unsubscribed, self.said_yes, self.referrals_made, self.won)
        ) or bool(self.revenue_cents)


def campaigns_and_follow_ups(
    session: Session, business_id: int, *, period: Period | None = None
) -> list[OutreachResult]:
    """Every campaign past its draft and every follow-up rule of the business
    (in `period`: those with something in it or started in it; all of time
    without one), the best earners first (then the most sent, then the newest)."""
    since, until = (period.start_at, period.end_at) if period else (None, None)
    parameters = {"business_id": business_id, **(period_parameters(period) if period else {})}
    rows = session.execute(_sent_statement(period is not None), parameters).all()
    brought = results_by_source(session, business_id=business_id, since=since, until=until)
    results = []
    for row in rows:
        kind, source_id = str(row.kind), int(row.id)
        figures = brought.get((kind, source_id), NO_RESULTS)
        started = _as_datetime(row.started)
        result = OutreachResult(
            kind=kind,
            source_id=source_id,
            name=str(row.name),
            started=started,
            sent=int(row.sent or 0),
            unsubscribed=figures["unsubscribed"],
            said_yes=figures["said_yes"],
            referrals_made=figures["referrals_made"],
            won=figures["won"],
            revenue_cents=figures["revenue_cents"],
        )
        if period is None or result.counts_anything or (started is not None and started in period):
            results.append(result)
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    results.sort(key=lambda r: r.started or oldest, reverse=True)
    results.sort(key=lambda r: (r.revenue_cents, r.sent), reverse=True)  # stable: newest next
    return results


@functools.cache
def _sent_statement(in_a_period: bool) -> Any:
    """The campaigns and rules with their sent counts (in the period, when
    `in_a_period`), built once per shape."""
    business_id: BindParameter[int] = bindparam("business_id")

    def during(at: Any) -> tuple[ColumnElement[bool], ...]:
        return in_period(at) if in_a_period else ()

    campaigns: Select[Any, Any, Any, Any, Any] = (
        select(
            literal(SourceKind.CAMPAIGN.value).label("kind"),
            col(Campaign.id).label("id"),
            col(Campaign.name).label("name"),
            func.coalesce(col(Campaign.started_at), col(Campaign.created_at)).label("started"),
            func.count(col(CampaignRecipient.id)).label("sent"),
        )
        .outerjoin(
            CampaignRecipient,
            and_(
                col(CampaignRecipient.campaign_id) == col(Campaign.id),
                col(CampaignRecipient.status) == RecipientStatus.SENT,
                *during(col(CampaignRecipient.sent_at)),
            ),
        )
        .where(
            col(Campaign.business_id) == business_id,
            col(Campaign.status) != CampaignStatus.DRAFT,
        )
        .group_by(col(Campaign.id))
    )
    rules: Select[Any, Any, Any, Any, Any] = (
        select(
            literal(SourceKind.FOLLOW_UP.value).label("kind"),
            col(FollowUpRule.id).label("id"),
            col(FollowUpRule.name).label("name"),
            col(FollowUpRule.created_at).label("started"),
            func.count(col(FollowUpSend.id)).label("sent"),
        )
        .outerjoin(
            FollowUpSend,
            and_(
                col(FollowUpSend.rule_id) == col(FollowUpRule.id),
                col(FollowUpSend.status) == FollowUpStatus.SENT,
                *during(col(FollowUpSend.created_at)),  # made when it is sent
            ),
        )
        .where(col(FollowUpRule.business_id) == business_id)
        .group_by(col(FollowUpRule.id))
    )
    return union_all(campaigns, rules)


def _as_datetime(value: object) -> dt.datetime | None:
    """An aware datetime from what the drivers return (SQLite gives text for a
    COALESCE in a UNION)."""
    if value is None:
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
