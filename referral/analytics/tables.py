"""Each dashboard figure as a table (header + rows): the same rows feed the
page's table beside its chart and the CSV export, so they cannot disagree."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from referral.analytics.funnel import STAGE_LABELS, STAGES, Funnel, PartnerFunnel
from referral.analytics.lifetime import Breakdown, CustomerValue
from referral.analytics.market import MarketMonth
from referral.analytics.outreach import OutreachResult
from referral.analytics.partners import PartnerValue
from referral.analytics.second_sales import SecondSales
from referral.analytics.trends import Month
from referral.money import Rate, format_cents
from referral.spreadsheet import neutralised


@dataclass(frozen=True)
class Table:
    name: str
    header: list[str]
    rows: list[list[str]]


def percent(rate: Rate) -> str:
    return "—" if rate.percent is None else f"{rate.percent:.1f}%"


def hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} h"


def funnel_table(funnel: Funnel) -> Table:
    rows = [
        [
            STAGE_LABELS[stage],
            str(funnel.counts[stage]),
            "—" if stage == "sent" else percent(funnel.rate(stage)),
        ]
        for stage in STAGES
    ]
    rows.append(["Overall (won / sent)", "", percent(funnel.overall)])
    return Table("funnel", ["Stage", "Referrals", "Conversion from the stage before"], rows)


def partner_funnel_table(rows: list[PartnerFunnel]) -> Table:
    return Table(
        "partner-funnels",
        ["Partner", *[STAGE_LABELS[s] for s in STAGES], "Won / sent"],
        [
            [r.partner_name, *[str(r.funnel.counts[s]) for s in STAGES], percent(r.funnel.overall)]
            for r in rows
        ],
    )


def partners_table(values: list[PartnerValue]) -> Table:
    return Table(
        "partners",
        [
            "Rank",
            "Partner",
            "Jobs won from their referrals",
            "Revenue",
            "Commissions earned",
            "of which settled",
            "Commissions owed",
            "of which settled",
            "Net commissions",
            "Revenue per $1 of commission",
            "Value to you",
        ],
        [
            [
                str(i),
                v.partner_name,
                str(v.jobs_won),
                format_cents(v.revenue_cents),
                format_cents(v.earned_cents),
                format_cents(v.earned_settled_cents),
                format_cents(v.owed_cents),
                format_cents(v.owed_settled_cents),
                format_cents(v.net_cents),
                "—"
                if v.revenue_per_commission.fraction is None
                else f"${float(v.revenue_per_commission.fraction):,.2f}",
                format_cents(v.value_cents),
            ]
            for i, v in enumerate(values, start=1)
        ],
    )


def trends_table(months: list[Month]) -> Table:
    return Table(
        "trends",
        [
            "Month",
            "Sent",
            "Received",
            "Jobs won",
            "Revenue won",
            "Commissions earned",
            "Commissions owed",
        ],
        [
            [
                m.month,
                str(m.figures["sent"]),
                str(m.figures["received"]),
                str(m.figures["won"]),
                format_cents(m.figures["revenue_cents"]),
                format_cents(m.figures["earned_cents"]),
                format_cents(m.figures["owed_cents"]),
            ]
            for m in months
        ],
    )


def breakdown_table(name: str, label: str, rows: list[Breakdown]) -> Table:
    return Table(
        name,
        [label, "Customers", "Revenue", "First sales", "Back-end sales", "Average per customer"],
        [
            [
                r.label,
                str(r.customers),
                format_cents(r.revenue_cents),
                format_cents(r.first_sale_cents),
                format_cents(r.back_end_cents),
                "—" if r.average.fraction is None else format_cents(round(r.average.fraction)),
            ]
            for r in rows
        ],
    )


def customers_table(rows: list[CustomerValue]) -> Table:
    return Table(
        "customers",
        [
            "Customer",
            "Sales",
            "Lifetime value",
            "Sale #1",
            "Sales #2 and later",
            "Through partners",
            "Referred to",
        ],
        [
            [
                c.name,
                str(c.sales),
                format_cents(c.lifetime_cents),
                format_cents(c.first_sale_cents),
                format_cents(c.back_end_cents),
                format_cents(c.partner_cents),
                "; ".join(f"{partner} ({status})" for partner, status in c.chain),
            ]
            for c in rows
        ],
    )


def as_csv(table: Table) -> str:
    """Money as plain decimals in CSV ("1250.00"), formulas neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow([_plain(cell) for cell in row])
    return out.getvalue()


_MONEY = re.compile(r"-?\$[\d,]+\.\d\d")
_NUMBER = re.compile(r"-?\d[\d,]*(\.\d+)?%?")


def _plain(cell: str) -> str:
    """Money as a decimal; text a spreadsheet would run quoted. Only a whole
    amount is money: a name such as "-$=1+1" is text (quoted), never "-=1+1"."""
    if _MONEY.fullmatch(cell):
        return cell.replace("$", "").replace(",", "")
    if _NUMBER.fullmatch(cell):  # a negative figure is a number, not a formula
        return cell
    return neutralised(cell)


def market_table(months: list[MarketMonth]) -> Table:
    return Table(
        "marketplace",
        [
            "Month",
            "Leads sold",
            "Received for them",
            "Leads bought",
            "Spent on them",
            "Disputes upheld",
            "Dispute rate",
            "Quality score",
        ],
        [
            [
                m.month,
                str(m.sold),
                format_cents(m.sold_cents),
                str(m.bought),
                format_cents(m.bought_cents),
                str(m.disputes_upheld),
                percent(m.dispute_rate),
                "—" if m.quality.score is None else str(m.quality.score),
            ]
            for m in months
        ],
    )


def second_sales_table(figure: SecondSales) -> Table:
    def days(value: float | None) -> str:
        return "—" if value is None else f"{value:.0f} days"

    return Table(
        name="second-sales",
        header=["Customers", "With a first sale", "Bought again", "Share", "Median time to it"],
        rows=[
            [
                c.label,
                str(c.customers),
                str(c.with_second_sale),
                percent(c.share),
                days(c.median_days_to_second),
            ]
            for c in figure.cohorts
        ],
    )


def outreach_table(rows: list[OutreachResult]) -> Table:
    return Table(
        name="campaigns",
        header=[
            "Campaign or follow-up",
            "Kind",
            "Sent",
            "Unsubscribed",
            "Clicked yes",
            "Referrals made",
            "Jobs won",
            "Revenue",
        ],
        rows=[
            [
                r.name,
                r.kind_label,
                str(r.sent),
                str(r.unsubscribed),
                str(r.said_yes),
                str(r.referrals_made),
                str(r.won),
                format_cents(r.revenue_cents),
            ]
            for r in rows
        ],
    )
