"""API: the key's business's campaigns (/api/v1/campaigns)."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView

from referral.auth.current import api_key_required
from referral.businesses.actor import current_actor
from referral.campaigns import services
from referral.campaigns.models import Campaign
from referral.campaigns.schemas import (
    CampaignInSchema,
    CampaignOutSchema,
    CampaignSegmentSchema,
    CampaignSendSchema,
    CampaignWithStatsSchema,
    SegmentPreviewSchema,
)
from referral.campaigns.services import Segment
from referral.db import get_session
from referral.restapi import Blueprint, PageArgs, page_schema, paginate

blp = Blueprint(
    "api_campaigns",
    __name__,
    url_prefix="/campaigns",
    description="Email campaigns to segments of your customers (only those who agreed).",
)


def _with_stats(campaign: Campaign) -> dict[str, Any]:
    session = get_session()
    return {
        **campaign.model_dump(),
        "stats": services.campaign_stats(session, campaign),
        "results": services.campaign_results(session, campaign),
    }


@blp.route("")
class Campaigns(MethodView):
    decorators = [api_key_required]

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(CampaignOutSchema))
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your campaigns, newest first."""
        query = services.list_campaigns_query(business_id=g.business.id)
        return paginate(get_session(), query, page=args["page"], per_page=args["per_page"])

    @blp.arguments(CampaignInSchema)
    @blp.response(201, CampaignWithStatsSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(
        403, description="The key's creator is not an owner or manager.", schema="Error"
    )
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a draft campaign (an unknown merge field is a 422 on `subject` or `body`)."""
        campaign = services.create_campaign(
            get_session(),
            actor=current_actor(),
            name=data["name"],
            subject=data["subject"],
            body=data["body"],
            segment=Segment.of(data["segment"]),
            offer_ids=data["offer_ids"],
        )
        return _with_stats(campaign)


@blp.route("/preview")
class Preview(MethodView):
    decorators = [api_key_required]

    @blp.arguments(CampaignSegmentSchema, required=False)  # no body: every customer
    @blp.response(200, SegmentPreviewSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(422, description="A segment that cannot be right.", schema="Error")
    def post(self, data: dict[str, Any] | None) -> dict[str, Any]:
        """How many customers a segment matches, how many you may email, and a sample."""
        preview = services.preview_segment(
            get_session(), business=g.business, segment=Segment.of(data or {})
        )
        return {**preview.__dict__, "problem": preview.problem}


@blp.route("/<int:campaign_id>")
class CampaignItem(MethodView):
    decorators = [api_key_required]

    @blp.response(200, CampaignWithStatsSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(404, description="Not one of your campaigns.", schema="Error")
    def get(self, campaign_id: int) -> dict[str, Any]:
        """A campaign with its progress: queued, sent, failed, skipped, cancelled."""
        campaign = services.get_campaign(
            get_session(), business_id=g.business.id, campaign_id=campaign_id
        )
        return _with_stats(campaign)


@blp.route("/<int:campaign_id>/send")
class Send(MethodView):
    decorators = [api_key_required]

    @blp.arguments(CampaignSendSchema, required=False)
    @blp.response(200, CampaignWithStatsSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(
        403, description="The key's creator is not an owner or manager.", schema="Error"
    )
    @blp.alt_response(404, description="Not one of your campaigns.", schema="Error")
    @blp.alt_response(409, description="Not a draft, or no postal address.", schema="Error")
    @blp.alt_response(422, description="Nobody you may email matches.", schema="Error")
    def post(self, data: dict[str, Any] | None, campaign_id: int) -> dict[str, Any]:
        """Queue a draft to every permitted customer of its segment, now or at `scheduled_for`."""
        campaign = services.send_campaign(
            get_session(),
            actor=current_actor(),
            campaign_id=campaign_id,
            at=(data or {}).get("scheduled_for"),
        )
        return _with_stats(campaign)


def _action(name: str, summary: str, action: Any) -> None:
    def post(self: MethodView, campaign_id: int) -> dict[str, Any]:
        campaign = action(get_session(), actor=current_actor(), campaign_id=campaign_id)
        return _with_stats(campaign)

    post.__doc__ = summary
    view: Any = blp.response(200, CampaignWithStatsSchema)(post)
    for code, description in (
        (401, "No valid API key."),
        (403, "The key's creator is not an owner or manager."),
        (404, "Not one of your campaigns."),
        (409, "The campaign's state does not allow it."),
    ):
        view = blp.alt_response(code, description=description, schema="Error")(view)
    cls = type(
        f"Campaign{name.title()}", (MethodView,), {"decorators": [api_key_required], "post": view}
    )
    blp.route(f"/<int:campaign_id>/{name}", endpoint=f"campaign_{name}")(cls)


for _name, _summary, _func in (
    ("pause", "Pause sending; the rest waits.", services.pause_campaign),
    ("resume", "Send the rest of a paused campaign.", services.resume_campaign),
    ("cancel", "Cancel: no email is sent after this answers.", services.cancel_campaign),
):
    _action(_name, _summary, _func)
