"""API: the dashboard's figures (/api/v1/analytics/...)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g
from flask.views import MethodView

from referral.analytics import funnel, lifetime, market, outreach, partners, second_sales, trends
from referral.analytics.sql import Period
from referral.auth.current import api_key_required
from referral.db import get_session, utcnow
from referral.ids import IdField
from referral.localtime import display_zone
from referral.money import Rate
from referral.restapi import Blueprint

blp = Blueprint(
    "api_analytics",
    __name__,
    url_prefix="/analytics",
    description="What your partnerships are worth: funnel, partners, trends, lifetime value.",
)


class PeriodArgs(ma.Schema):
    months = ma.fields.Integer(
        load_default=12,
        validate=ma.validate.Range(min=1, max=60),
        metadata={"description": "The last N calendar months, this one included."},
    )


class FunnelArgs(PeriodArgs):
    direction = ma.fields.String(
        load_default="sent", validate=ma.validate.OneOf(["sent", "received"])
    )
    partner_id = IdField(load_default=None, strict=False)


class RateSchema(ma.Schema):
    numerator = ma.fields.Integer()
    denominator = ma.fields.Integer()


class FunnelSchema(ma.Schema):
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    conversion = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(RateSchema))
    overall = ma.fields.Nested(RateSchema)
    leakiest_stage = ma.fields.String(allow_none=True)
    median_hours_to_accept = ma.fields.Float(allow_none=True)
    median_hours_to_win = ma.fields.Float(allow_none=True)


class PartnerValueSchema(ma.Schema):
    partner_id = ma.fields.Integer()
    partner_name = ma.fields.String()
    jobs_won = ma.fields.Integer()
    revenue_cents = ma.fields.Integer()
    earned_cents = ma.fields.Integer()
    earned_settled_cents = ma.fields.Integer()
    owed_cents = ma.fields.Integer()
    owed_settled_cents = ma.fields.Integer()
    net_cents = ma.fields.Integer()
    value_cents = ma.fields.Integer()
    revenue_per_commission = ma.fields.Nested(RateSchema)


class PartnersSchema(ma.Schema):
    partners = ma.fields.List(ma.fields.Nested(PartnerValueSchema))


class MonthSchema(ma.Schema):
    month = ma.fields.String()
    sent = ma.fields.Integer()
    received = ma.fields.Integer()
    won = ma.fields.Integer()
    revenue_cents = ma.fields.Integer()
    earned_cents = ma.fields.Integer()
    owed_cents = ma.fields.Integer()


class TrendsSchema(ma.Schema):
    months = ma.fields.List(ma.fields.Nested(MonthSchema))


class CustomerValueSchema(ma.Schema):
    customer_id = ma.fields.Integer()
    name = ma.fields.String()
    sales = ma.fields.Integer()
    lifetime_cents = ma.fields.Integer()
    first_sale_cents = ma.fields.Integer()
    back_end_cents = ma.fields.Integer()
    partner_cents = ma.fields.Integer()


class BreakdownSchema(ma.Schema):
    label = ma.fields.String()
    customers = ma.fields.Integer()
    revenue_cents = ma.fields.Integer()
    first_sale_cents = ma.fields.Integer()
    back_end_cents = ma.fields.Integer()


class LifetimeSchema(ma.Schema):
    customers = ma.fields.Integer()
    revenue_cents = ma.fields.Integer()
    first_sale_cents = ma.fields.Integer()
    back_end_cents = ma.fields.Integer()
    partner_cents = ma.fields.Integer()
    back_end_share = ma.fields.Nested(RateSchema)
    by_trade = ma.fields.List(ma.fields.Nested(BreakdownSchema))
    by_month = ma.fields.List(ma.fields.Nested(BreakdownSchema))
    top_customers = ma.fields.List(ma.fields.Nested(CustomerValueSchema))


def _rate(rate: Rate) -> dict[str, int]:
    return {"numerator": rate.numerator, "denominator": rate.denominator}


def _period(args: dict[str, Any]) -> Period:
    return Period.last_months_until(args["months"], now=utcnow(), zone=display_zone())


def _documented(view: Any) -> Any:
    return blp.alt_response(401, description="No valid API key.", schema="Error")(view)


@blp.route("/funnel")
class FunnelView(MethodView):
    decorators = [api_key_required]

    @blp.arguments(FunnelArgs, location="query")
    @blp.response(200, FunnelSchema)
    @_documented
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Referrals sent (or received): counts per stage and conversions as exact ratios."""
        result = funnel.funnel(
            get_session(),
            g.business.id,
            direction=args["direction"],
            period=_period(args),
            partner_id=args.get("partner_id"),
        )
        return {
            "counts": result.counts,
            "conversion": {s: _rate(result.rate(s)) for s in funnel.STAGES[1:]},
            "overall": _rate(result.overall),
            "leakiest_stage": result.leakiest_stage,
            "median_hours_to_accept": result.median_hours_to_accept,
            "median_hours_to_win": result.median_hours_to_win,
        }


@blp.route("/partners")
class PartnersView(MethodView):
    decorators = [api_key_required]

    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, PartnersSchema)
    @_documented
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Partners ranked by value: revenue won from them plus commissions earned, less owed."""
        values = partners.partner_values(get_session(), g.business.id, period=_period(args))
        return {
            "partners": [
                {
                    **vars(v),
                    "net_cents": v.net_cents,
                    "value_cents": v.value_cents,
                    "revenue_per_commission": _rate(v.revenue_per_commission),
                }
                for v in values
            ]
        }


@blp.route("/trends")
class TrendsView(MethodView):
    decorators = [api_key_required]

    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, TrendsSchema)
    @_documented
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Month by month: referrals, jobs won, revenue, commissions."""
        months = trends.monthly(get_session(), g.business.id, period=_period(args))
        return {"months": [{"month": m.month, **m.figures} for m in months]}


@blp.route("/lifetime-value")
class LifetimeView(MethodView):
    decorators = [api_key_required]

    @blp.response(200, LifetimeSchema)
    @_documented
    def get(self) -> dict[str, Any]:
        """Customer lifetime value: first and back-end sales, by trade, by month, top customers."""
        figures = lifetime.figures(get_session(), g.business.id)  # one statement for all
        summary = figures.summary

        def breakdown(rows: list[lifetime.Breakdown]) -> list[dict[str, Any]]:
            return [{**vars(r), "back_end_cents": r.back_end_cents} for r in rows]

        return {
            **vars(summary),
            "back_end_share": _rate(summary.back_end_share),
            "by_trade": breakdown(figures.by_trade),
            "by_month": breakdown(figures.by_month),
            "top_customers": [
                {
                    **{k: v for k, v in vars(c).items() if k != "chain"},
                    "back_end_cents": c.back_end_cents,
                }
                for c in figures.top_customers
            ],
        }


class CohortSchema(ma.Schema):
    label = ma.fields.String()
    customers = ma.fields.Integer(metadata={"description": "Customers with a first sale."})
    with_second_sale = ma.fields.Integer()
    share = ma.fields.Nested(RateSchema)
    median_days_to_second = ma.fields.Float(allow_none=True)


class SecondSalesSchema(ma.Schema):
    campaigns_since = ma.fields.Date(
        allow_none=True, metadata={"description": "When your first campaign started."}
    )
    cohorts = ma.fields.List(ma.fields.Nested(CohortSchema))


@blp.route("/second-sales")
class SecondSalesView(MethodView):
    decorators = [api_key_required]

    @blp.response(200, SecondSalesSchema)
    @_documented
    def get(self) -> dict[str, Any]:
        """The second sale: customers who bought again and the median days to it,
        all and split at your first campaign."""
        figure = second_sales.second_sales(get_session(), g.business.id)
        return {
            "campaigns_since": figure.campaigns_since,
            "cohorts": [{**vars(c), "share": _rate(c.share)} for c in figure.cohorts],
        }


class OutreachSchema(ma.Schema):
    kind = ma.fields.String(metadata={"description": "campaign or follow_up"})
    id = ma.fields.Integer(metadata={"description": "The campaign's or the rule's id."})
    name = ma.fields.String()
    sent = ma.fields.Integer(metadata={"description": "Emails sent."})
    unsubscribed = ma.fields.Integer(
        metadata={"description": "Customers who unsubscribed with the link in its email."}
    )
    said_yes = ma.fields.Integer(metadata={"description": "Customers who clicked yes on an offer."})
    referrals_made = ma.fields.Integer(metadata={"description": "Referrals to partners made."})
    won = ma.fields.Integer(metadata={"description": "Partner referrals and own offers won."})
    revenue_cents = ma.fields.Integer(metadata={"description": "Value of the jobs won."})


class OutreachListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(OutreachSchema))


@blp.route("/campaigns")
class OutreachView(MethodView):
    decorators = [api_key_required]

    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, OutreachListSchema)
    @_documented
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Each campaign (past its draft) and follow-up rule with something in
        the period or started in it: emails sent, unsubscribes, yeses and
        referrals made in it, jobs won (closed) in it and their revenue, the
        best earners first."""
        rows = outreach.campaigns_and_follow_ups(get_session(), g.business.id, period=_period(args))
        return {
            "items": [
                {
                    "kind": r.kind,
                    "id": r.source_id,
                    "name": r.name,
                    "sent": r.sent,
                    "unsubscribed": r.unsubscribed,
                    "said_yes": r.said_yes,
                    "referrals_made": r.referrals_made,
                    "won": r.won,
                    "revenue_cents": r.revenue_cents,
                }
                for r in rows
            ]
        }


class MarketMonthSchema(ma.Schema):
    month = ma.fields.String()
    sold = ma.fields.Integer()
    sold_cents = ma.fields.Integer()
    bought = ma.fields.Integer()
    bought_cents = ma.fields.Integer()
    disputes_upheld = ma.fields.Integer()
    dispute_rate = ma.fields.Nested(RateSchema)
    quality_score = ma.fields.Integer(allow_none=True)


class MarketSchema(ma.Schema):
    months = ma.fields.List(ma.fields.Nested(MarketMonthSchema))


@blp.route("/marketplace")
class MarketView(MethodView):
    decorators = [api_key_required]

    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, MarketSchema)
    @_documented
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Leads sold and bought by month, the dispute rate and the quality score."""
        months = market.monthly(get_session(), g.business.id, period=_period(args))
        return {
            "months": [
                {
                    "month": m.month,
                    "sold": m.sold,
                    "sold_cents": m.sold_cents,
                    "bought": m.bought,
                    "bought_cents": m.bought_cents,
                    "disputes_upheld": m.disputes_upheld,
                    "dispute_rate": _rate(m.dispute_rate),
                    "quality_score": m.quality.score,
                }
                for m in months
            ]
        }
