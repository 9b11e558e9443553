"""Pages: a business's dashboard (funnel, partner ranking, monthly trends,
customer lifetime value) with charts, tables and CSV; the operator's view."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, g, render_template, request
from markupsafe import Markup

from referral.analytics import charts, funnel, outreach, page, platform, tables
from referral.analytics.sql import Period
from referral.auth.current import login_required, operator_required
from referral.db import get_session, utcnow
from referral.localtime import display_zone
from referral.money import format_cents

bp = Blueprint("analytics", __name__)

PERIODS = {3: "Last 3 months", 6: "Last 6 months", 12: "Last 12 months", 24: "Last 24 months"}


def _period() -> tuple[int, Period]:
    months = request.args.get("months", 12, type=int)
    months = months if months in PERIODS else 12
    return months, Period.last_months_until(months, now=utcnow(), zone=display_zone())


def _direction() -> str:
    return "received" if request.args.get("direction") == "received" else "sent"


def _figures() -> page.Figures:
    """Every figure of this request's period and direction, computed once per
    request (concurrently: analytics.page)."""
    if "analytics_figures" not in g:
        _, period = _period()
        g.analytics_figures = page.compute(
            current_app.extensions["db_request_engine"],
            g.business.id,
            period=period,
            direction=_direction(),
        )
    return g.analytics_figures


def _funnel_chart(result: funnel.Funnel) -> Markup:
    return charts.bars(
        [
            charts.Bar(
                funnel.STAGE_LABELS[stage],
                result.counts[stage],
                f"{result.counts[stage]}"
                + ("" if stage == "sent" else f" ({tables.percent(result.rate(stage))})"),
            )
            for stage in funnel.STAGES
        ],
        title="Referral funnel",
    )


# The computed figure each page figure is drawn from.
SOURCES = {
    "funnel": "funnel",
    "partner-funnels": "partner_funnels",
    "partners": "partner_values",
    "trends": "months",
    "lifetime-by-trade": "lifetime",
    "lifetime-by-month": "lifetime",
    "customers": "lifetime",
    "marketplace": "market",
    "second-sales": "second_sales",
    "campaigns": "outreach",
}


def _build(name: str) -> tuple[tables.Table | None, Markup]:
    """One figure of the dashboard: its table and its chart (no table when it
    could not be computed: the page says it is unavailable)."""
    figures = _figures()
    if name not in SOURCES:
        abort(404)
    if isinstance(getattr(figures, SOURCES[name]), page.Unavailable):
        return None, Markup("")
    if name == "funnel":
        result = figures.funnel
        return tables.funnel_table(result), _funnel_chart(result)
    if name == "partner-funnels":
        rows = figures.partner_funnels
        return tables.partner_funnel_table(rows), Markup("")
    if name == "partners":
        values = figures.partner_values
        chart = charts.bars(
            [
                charts.Bar(v.partner_name, v.value_cents, format_cents(v.value_cents))
                for v in values
            ],
            title="Partners ranked by value to you",
        )
        return tables.partners_table(values), chart
    if name == "trends":
        months = figures.months
        chart = charts.columns(
            [m.month for m in months],
            [
                ("Referrals sent", [m.figures["sent"] for m in months]),
                ("Referrals received", [m.figures["received"] for m in months]),
                ("Jobs won", [m.figures["won"] for m in months]),
            ],
            title="Referrals by month",
        )
        return tables.trends_table(months), chart
    if name == "lifetime-by-trade":
        rows = figures.lifetime.by_trade
        chart = charts.bars(
            [charts.Bar(r.label, r.revenue_cents, format_cents(r.revenue_cents)) for r in rows],
            title="Revenue from your customers by trade",
        )
        return tables.breakdown_table(name, "Trade", rows), chart
    if name == "lifetime-by-month":
        rows = figures.lifetime.by_month
        chart = charts.columns(
            [r.label for r in rows],
            [
                ("First sales", [r.first_sale_cents // 100 for r in rows]),
                ("Back-end sales", [r.back_end_cents // 100 for r in rows]),
            ],
            title="First and back-end sales by month (dollars)",
        )
        return tables.breakdown_table(name, "Month", rows), chart
    if name == "marketplace":
        months = figures.market
        chart = charts.columns(
            [m.month for m in months],
            [
                ("Leads sold", [m.sold for m in months]),
                ("Leads bought", [m.bought for m in months]),
            ],
            title="Leads sold and bought by month",
        )
        return tables.market_table(months), chart
    if name == "customers":
        return tables.customers_table(figures.lifetime.top_customers), Markup("")
    if name == "second-sales":
        cohorts = figures.second_sales.cohorts
        chart = charts.bars(
            [
                charts.Bar(c.label, c.with_second_sale, tables.percent(c.share))
                for c in cohorts
                if c.customers
            ],
            title="Customers who bought again",
        )
        return tables.second_sales_table(figures.second_sales), chart
    if name == "campaigns":
        rows = figures.outreach
        return tables.outreach_table(rows), _outreach_chart(rows)
    abort(404)


def _outreach_chart(rows: list[outreach.OutreachResult]) -> Markup:
    """What each campaign and follow-up earned, and the jobs it won; before
    anything earned, the emails each sent (the table beside it has the rest)."""
    if any(r.revenue_cents for r in rows):
        bars = [
            charts.Bar(
                charts.shortened(f"{r.kind_label}: {r.name}"),
                r.revenue_cents,
                f"{format_cents(r.revenue_cents)} · {r.won} won",
            )
            for r in rows
        ]
        return charts.bars(bars, title="Revenue from campaigns and follow-ups")
    bars = [
        charts.Bar(
            charts.shortened(f"{r.kind_label}: {r.name}"),
            r.sent,
            f"{r.sent} sent, {r.said_yes} yes",
        )
        for r in sorted(rows, key=lambda r: r.sent, reverse=True)
    ]
    return charts.bars(bars, title="Emails sent by campaigns and follow-ups")


FIGURES = (
    "funnel",
    "partner-funnels",
    "partners",
    "trends",
    "lifetime-by-trade",
    "lifetime-by-month",
    "customers",
    "second-sales",
    "campaigns",
    "marketplace",
)


@bp.get("/analytics")
@login_required
def dashboard() -> str:
    months, _ = _period()
    direction = _direction()
    figures = {name: _build(name) for name in FIGURES}
    headline, lifetime = _figures().funnel, _figures().lifetime
    return render_template(
        "analytics/dashboard.html",
        months=months,
        periods=PERIODS,
        direction=direction,
        figures=figures,
        funnel=None if isinstance(headline, page.Unavailable) else headline,
        stage_labels=funnel.STAGE_LABELS,
        lifetime=None if isinstance(lifetime, page.Unavailable) else lifetime.summary,
        percent=tables.percent,
        hours=tables.hours,
    )


@bp.get("/analytics/<name>.csv")
@login_required
def export(name: str) -> Response:
    if name not in FIGURES:
        abort(404)
    table, _ = _build(name)
    if table is None:
        return Response(
            "unavailable: this figure cannot be computed right now; try again later.\n",
            status=503,
            mimetype="text/csv",
            headers={"Retry-After": "60"},
        )
    return Response(
        tables.as_csv(table),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@bp.get("/operator/analytics")
@operator_required
def operator() -> str:
    months, period = _period()
    figures = platform.platform_figures(get_session(), period=period)
    return render_template(
        "operator/analytics.html", figures=figures, months=months, periods=PERIODS
    )
