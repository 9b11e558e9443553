"""API: find partners and run partnerships (/api/v1/partners, /api/v1/partnerships)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g
from flask.views import MethodView

from referral.auth.current import api_key_required
from referral.businesses.actor import current_actor
from referral.db import get_session
from referral.partnerships import services
from referral.partnerships.discovery import discover_partners
from referral.partnerships.history import (
    list_versions,
    partnership_summaries,
    partnership_summary,
)
from referral.partnerships.models import PartnershipStatus
from referral.partnerships.schemas import (
    ProposePartnershipSchema,
    ReasonSchema,
    TermsPairSchema,
    terms_pair,
)
from referral.restapi import Blueprint, PageArgs, page_schema, paginate

blp = Blueprint(
    "api_partnerships",
    __name__,
    url_prefix="",
    description="Find partners, agree versioned commission terms and run partnerships.",
)


class PartnerBusinessSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    zip_code = ma.fields.String()
    radius_miles = ma.fields.Integer()


class TrustSignalsSchema(ma.Schema):
    received = ma.fields.Integer(metadata={"description": "Referrals received in a year."})
    acceptance_rate = ma.fields.Float(allow_none=True)
    win_rate = ma.fields.Float(allow_none=True)
    median_answer_hours = ma.fields.Float(allow_none=True)


class PartnerCandidateSchema(ma.Schema):
    business = ma.fields.Nested(PartnerBusinessSchema)
    trade = ma.fields.String(attribute="trade_slug")
    trade_name = ma.fields.String()
    distance_miles = ma.fields.Float()
    active_partnerships = ma.fields.Integer()
    partnership_id = ma.fields.Integer(allow_none=True)
    partnership_status = ma.fields.String(allow_none=True)
    signals = ma.fields.Nested(TrustSignalsSchema, allow_none=True)


class DiscoverArgs(PageArgs):
    trade = ma.fields.String(metadata={"description": "Only this trade (slug)."})
    q = ma.fields.String(
        validate=ma.validate.Length(max=120), metadata={"description": "Name contains."}
    )


class TermsOutSchema(ma.Schema):
    referrer_id = ma.fields.Integer()
    payer_id = ma.fields.Integer()
    basis = ma.fields.String()
    rate_bps = ma.fields.Integer(allow_none=True)
    flat_fee_cents = ma.fields.Integer(allow_none=True)
    cap_cents = ma.fields.Integer(allow_none=True)
    currency = ma.fields.String()
    hold_days = ma.fields.Integer()
    response_window_hours = ma.fields.Integer()


class VersionSchema(ma.Schema):
    number = ma.fields.Integer()
    effective_at = ma.fields.DateTime()
    terms = ma.fields.List(ma.fields.Nested(TermsOutSchema))


class OpenProposalSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    proposed_by_id = ma.fields.Integer()
    message = ma.fields.String()
    created_at = ma.fields.DateTime()
    terms = ma.fields.List(ma.fields.Nested(TermsOutSchema))


class PartnershipSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String()
    partner = ma.fields.Nested(PartnerBusinessSchema)
    proposed_by_id = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    activated_at = ma.fields.DateTime(allow_none=True)
    ended_at = ma.fields.DateTime(allow_none=True)
    current_version = ma.fields.Nested(VersionSchema, allow_none=True)
    open_proposal = ma.fields.Nested(OpenProposalSchema, allow_none=True)


class PartnershipListArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(list(PartnershipStatus)))


class VersionListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(VersionSchema))


def _summary(partnership: Any) -> dict[str, Any]:
    return partnership_summary(
        session=get_session(), business_id=g.business.id, partnership=partnership
    )


@blp.route("/partners")
class Partners(MethodView):
    decorators = [api_key_required]

    @blp.arguments(DiscoverArgs, location="query")
    @blp.response(200, page_schema(PartnerCandidateSchema))
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Businesses you could partner with: other trades, overlapping areas, nearest first."""
        items, total = discover_partners(
            session=get_session(),
            business=g.business,
            trade_slug=args.get("trade"),
            name=args.get("q"),
            page=args["page"],
            per_page=args["per_page"],
        )
        return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}


@blp.route("/partners/<int:business_id>/block")
class Block(MethodView):
    decorators = [api_key_required]

    @blp.response(204)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(404, description="No such business.", schema="Error")
    def put(self, business_id: int) -> None:
        """Block a business: neither of you sees the other; a live partnership ends."""
        services.block_business(
            session=get_session(), actor=current_actor(), business_id=business_id
        )

    @blp.response(204)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(404, description="You have not blocked this business.", schema="Error")
    def delete(self, business_id: int) -> None:
        """Unblock a business."""
        services.unblock_business(
            session=get_session(), actor=current_actor(), business_id=business_id
        )


@blp.route("/partnerships")
class Partnerships(MethodView):
    decorators = [api_key_required]

    @blp.arguments(PartnershipListArgs, location="query")
    @blp.response(200, page_schema(PartnershipSchema))
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your partnerships, newest first."""
        session = get_session()
        statuses = (args["status"],) if args.get("status") else None
        page = paginate(
            session,
            services.partnerships_query(business_id=g.business.id, statuses=statuses),
            page=args["page"],
            per_page=args["per_page"],
        )
        page["items"] = partnership_summaries(
            session=session, business_id=g.business.id, partnerships=page["items"]
        )
        return page

    @blp.arguments(ProposePartnershipSchema)
    @blp.response(201, PartnershipSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(403, description="The key's owner may not propose.", schema="Error")
    @blp.alt_response(404, description="No such business.", schema="Error")
    @blp.alt_response(409, description="Competitors, no overlap, or a live one.", schema="Error")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Propose a partnership with terms for each direction."""
        partnership = services.propose_partnership(
            session=get_session(),
            actor=current_actor(),
            partner_id=data["partner_id"],
            terms=terms_pair(data),
            message=data["message"],
        )
        return _summary(partnership)


@blp.route("/partnerships/<int:partnership_id>")
class PartnershipItem(MethodView):
    decorators = [api_key_required]

    @blp.response(200, PartnershipSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(404, description="Not one of your partnerships.", schema="Error")
    def get(self, partnership_id: int) -> dict[str, Any]:
        """One partnership: status, terms in force and the open proposal."""
        partnership = services.get_partnership(
            session=get_session(), business_id=g.business.id, partnership_id=partnership_id
        )
        return _summary(partnership)


@blp.route("/partnerships/<int:partnership_id>/versions")
class Versions(MethodView):
    decorators = [api_key_required]

    @blp.response(200, VersionListSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(404, description="Not one of your partnerships.", schema="Error")
    def get(self, partnership_id: int) -> dict[str, Any]:
        """Every agreed version of the terms, oldest first."""
        session = get_session()
        partnership = services.get_partnership(
            session=session, business_id=g.business.id, partnership_id=partnership_id
        )
        return {"items": list_versions(session=session, partnership=partnership)}


def _action_view(name: str, action: Any, summary: str, schema: type[ma.Schema] | None) -> None:
    """POST /partnerships/<id>/<name>: one transition, answering the partnership."""

    def post(self: MethodView, *args: Any, partnership_id: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if schema is ReasonSchema:
            kwargs["reason"] = args[0]["reason"]
        elif schema is TermsPairSchema:
            kwargs.update(terms=terms_pair(args[0]), message=args[0]["message"])
        action(
            session=get_session(), actor=current_actor(), partnership_id=partnership_id, **kwargs
        )
        partnership = services.get_partnership(
            session=get_session(), business_id=g.business.id, partnership_id=partnership_id
        )
        return _summary(partnership)

    post.__doc__ = summary
    view = blp.response(200, PartnershipSchema)(post)
    view = blp.alt_response(401, description="No valid API key.", schema="Error")(view)
    view = blp.alt_response(403, description="The key's owner may not.", schema="Error")(view)
    view = blp.alt_response(404, description="Not one of your partnerships.", schema="Error")(view)
    view = blp.alt_response(409, description="Not allowed in this state.", schema="Error")(view)
    if schema is not None:
        view = blp.arguments(schema)(view)
    cls = type(
        f"Partnership{name.title()}",
        (MethodView,),
        {"decorators": [api_key_required], "post": view},
    )
    blp.route(f"/partnerships/<int:partnership_id>/{name}", endpoint=f"partnership_{name}")(cls)


for _name, _action, _summary_text, _schema in (
    ("accept", services.accept_proposal, "Accept the open proposal.", None),
    ("decline", services.decline_proposal, "Decline the open proposal.", ReasonSchema),
    ("counter", services.counter_proposal, "Counter the open proposal.", TermsPairSchema),
    ("withdraw", services.withdraw_proposal, "Withdraw your open proposal.", None),
    ("amendments", services.propose_amendment, "Propose new terms.", TermsPairSchema),
    ("pause", services.pause_partnership, "Pause: no new referrals either way.", None),
    ("resume", services.resume_partnership, "Resume a paused partnership.", None),
    ("end", services.end_partnership, "End the partnership for good.", None),
):
    _action_view(_name, _action, _summary_text, _schema)
