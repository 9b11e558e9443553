"""A business's statement for one month: commissions it earned and owed that
month, and the settlements paid in it, with totals (HTML and CSV)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from referral.businesses.models import Business
from referral.commissions.models import Commission
from referral.localtime import UTC, local_date
from referral.money import cents_to_decimal_text
from referral.settlements.models import CHARGED, Settlement
from referral.spreadsheet import neutralised


@dataclass(frozen=True)
class StatementLine:
    date: dt.date
    kind: str  # "commission earned", "commission owed", "settlement received", "settlement paid"
    reference: str
    partner: str
    status: str
    amount_cents: int  # positive: in your favour


@dataclass(frozen=True)
class Statement:
    month: dt.date
    lines: list[StatementLine]

    @property
    def earned_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines if line.kind == "commission earned")

    @property
    def owed_cents(self) -> int:
        return -sum(line.amount_cents for line in self.lines if line.kind == "commission owed")

    @property
    def received_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines if line.kind == "settlement received")

    @property
    def paid_cents(self) -> int:
        return -sum(line.amount_cents for line in self.lines if line.kind == "settlement paid")


def month_bounds(month: dt.date, in_zone: ZoneInfo = UTC) -> tuple[dt.datetime, dt.datetime]:
    """The first moment of the month and of the next, at midnight in `in_zone`."""
    start = dt.datetime(month.year, month.month, 1, tzinfo=in_zone)
    end = dt.datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=in_zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def parse_month(text: str | None, *, today: dt.date) -> dt.date:
    """ "2026-11" -> 2026-11-01; anything else -> this month."""
    try:
        year, month = (int(part) for part in (text or "").split("-"))
        return dt.date(year, month, 1)
    except ValueError:
        return today.replace(day=1)


def statement(
    session: Session, business_id: int, month: dt.date, in_zone: ZoneInfo = UTC
) -> Statement:
    """The month's commissions and settlements, the month and each line's
    date in the business's zone `in_zone`."""
    start, end = month_bounds(month, in_zone)
    partner = aliased(Business)
    lines: list[StatementLine] = []
    for role in ("earned", "owed"):
        mine = Commission.referrer_id if role == "earned" else Commission.payer_id
        theirs = Commission.payer_id if role == "earned" else Commission.referrer_id
        rows = session.exec(
            select(Commission, partner.name)
            .join(partner, partner.id == theirs)
            .where(mine == business_id, Commission.created_at >= start, Commission.created_at < end)
            .order_by(Commission.created_at)
        ).all()
        sign = 1 if role == "earned" else -1
        lines += [
            StatementLine(
                date=local_date(c.created_at, in_zone),
                kind=f"commission {role}",
                reference=f"referral #{c.referral_id}",
                partner=name,
                status=c.status,
                amount_cents=sign * c.amount_cents,
            )
            for c, name in rows
        ]
    other = aliased(Business)
    settled = session.exec(
        select(Settlement, other.name)
        # The partner is whichever side is not this business.
        .join(other, other.id == Settlement.debtor_id + Settlement.creditor_id - business_id)
        .where(
            or_(Settlement.debtor_id == business_id, Settlement.creditor_id == business_id),
            Settlement.paid_at >= start,
            Settlement.paid_at < end,
            Settlement.status.in_(CHARGED),
        )
        .order_by(Settlement.paid_at)
    ).all()
    for settlement, name in settled:
        received = settlement.creditor_id == business_id
        amount = (
            settlement.net_cents - settlement.platform_fee_cents
            if received
            else -settlement.net_cents
        )
        lines.append(
            StatementLine(
                date=local_date(settlement.paid_at, in_zone),  # type: ignore[arg-type]
                kind="settlement received" if received else "settlement paid",
                reference=f"settlement {settlement.id}",
                partner=name,
                status=settlement.status,
                amount_cents=amount,
            )
        )
    lines.sort(key=lambda line: (line.date, line.kind))
    return Statement(month=month, lines=lines)


def as_csv(report: Statement) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "kind", "reference", "partner", "status", "amount"])
    for line in report.lines:
        writer.writerow(
            [
                line.date.isoformat(),
                line.kind,
                line.reference,
                neutralised(line.partner),
                line.status,
                cents_to_decimal_text(line.amount_cents),
            ]
        )
    return out.getvalue()
