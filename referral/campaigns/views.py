"""Pages: a business's campaigns, composing one with its segment's count and
a sample, and its progress while it is sent (owners and managers run them;
staff may look)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, g, redirect, render_template, request, url_for
from sqlmodel import select
from werkzeug.wrappers import Response

from referral import live
from referral.auth.current import login_required
from referral.auth.roles import MANAGING_ROLES
from referral.businesses.actor import current_actor
from referral.campaigns import services
from referral.campaigns.models import Campaign, CampaignStatus
from referral.campaigns.schemas import CampaignFormSchema, segment_of
from referral.campaigns.services import MERGE_FIELDS, Segment
from referral.customers.marketing import NO_POSTAL_ADDRESS
from referral.customers.models import CustomerJob
from referral.db import get_session
from referral.errors import DomainError
from referral.forms import parse_form, run_action
from referral.restapi import paginate

bp = Blueprint("campaigns", __name__)

PER_PAGE = 50


def _trades() -> list[str]:
    """The trades of the business's past jobs, to choose from."""
    return list(
        get_session().exec(
            select(CustomerJob.trade)
            .where(CustomerJob.business_id == g.business.id, CustomerJob.trade != "")
            .distinct()
            .order_by(CustomerJob.trade)
        )
    )


@bp.get("/campaigns")
@login_required
def index() -> str:
    """Every campaign of the business, newest first."""
    db = get_session()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    listing = paginate(
        db, services.list_campaigns_query(business_id=g.business.id), page=page, per_page=PER_PAGE
    )
    stats = {c.id: services.campaign_stats(db, c) for c in listing["items"]}
    pages = max(1, -(-listing["total"] // PER_PAGE))
    return render_template(
        "campaigns/index.html", listing=listing, stats=stats, page=page, pages=pages
    )


def _form_page(status: int = 200, **context: Any) -> tuple[str, int]:
    context.setdefault("errors", {})
    context.setdefault("form", {})
    context.setdefault("chosen_trades", [])
    context.setdefault("chosen_offers", [])
    return render_template(
        "campaigns/new.html",
        trades=_trades(),
        offers=services.offers_to_include(get_session(), g.business.id),
        merge_fields=MERGE_FIELDS,
        can_run=g.user.role in MANAGING_ROLES,
        no_postal_address=NO_POSTAL_ADDRESS if not g.business.postal_address.strip() else "",
        **context,
    ), status


@bp.route("/campaigns/new", methods=["GET", "POST"])
@login_required
def new() -> Response | tuple[str, int]:
    """Compose a campaign: its segment (with the count and a sample) and its message."""
    if request.method == "GET":
        return _form_page()
    chosen_trades = [t for t in request.form.getlist("trades") if t]
    chosen_offers = request.form.getlist("offer_ids")
    data, errors = parse_form(CampaignFormSchema(), request.form)
    context: dict[str, Any] = {
        "form": request.form,
        "chosen_trades": chosen_trades,
        "chosen_offers": chosen_offers,
    }
    if not all(offer_id.isdigit() for offer_id in chosen_offers):
        errors = {**errors, "offer_ids": ["Choose offers from the list."]}
    if errors:
        return _form_page(422, errors=errors, **context)
    segment = Segment.of({**segment_of(data), "trades": chosen_trades})
    db = get_session()
    try:
        if request.form.get("action") == "preview":
            preview = services.preview_segment(db, business=g.business, segment=segment)
            return _form_page(200, preview=preview, **context)
        campaign = services.create_campaign(
            db,
            actor=current_actor(),
            name=data["name"],
            subject=data["subject"],
            body=data["body"],
            segment=segment,
            offer_ids=[int(offer_id) for offer_id in chosen_offers],
        )
    except DomainError as error:
        db.rollback()
        return _form_page(422, errors=error.errors or {"": [error.message]}, **context)
    return redirect(url_for("campaigns.show", campaign_id=campaign.id))


def _campaign(campaign_id: int) -> Campaign:
    return services.get_campaign(get_session(), business_id=g.business.id, campaign_id=campaign_id)


@bp.get("/campaigns/<int:campaign_id>")
@login_required
def show(campaign_id: int) -> str:
    """A campaign: its message, who receives it, and its progress."""
    db = get_session()
    campaign = _campaign(campaign_id)
    segment = Segment.of(campaign.segment)
    preview = None
    if campaign.status == CampaignStatus.DRAFT:
        preview = services.preview_segment(db, business=g.business, segment=segment)
    stats = services.campaign_stats(db, campaign)
    return render_template(
        "campaigns/show.html",
        campaign=campaign,
        results=services.campaign_results(db, campaign),
        offers=[
            (offer, maker)
            for offer, maker in services.offers_to_include(db, g.business.id)
            if offer.id in campaign.offer_ids
        ],
        segment=segment,
        stats=stats,
        preview=preview,
        paragraphs=services.paragraphs(campaign.body),
        live_state=_live_state(campaign, stats),
        can_run=g.user.role in MANAGING_ROLES,
        no_postal_address=NO_POSTAL_ADDRESS if not g.business.postal_address.strip() else "",
    )


def _live_state(campaign: Campaign, stats: dict[str, int]) -> str:
    return (
        f"{campaign.status}:{stats['queued']}:{stats['sent']}:{stats['failed']}:{stats['skipped']}"
    )


@bp.get("/campaigns/<int:campaign_id>/status")
@login_required
def status(campaign_id: int) -> Response:
    """A campaign's progress, as JSON, for its page while it is sent."""
    campaign = _campaign(campaign_id)
    stats = services.campaign_stats(get_session(), campaign)
    done = campaign.status not in (CampaignStatus.SENDING, CampaignStatus.SCHEDULED)
    return live.status(_live_state(campaign, stats), done=done)


def _scheduled_for() -> dt.datetime | None:
    """The form's local date and time, in the business's time zone."""
    text = (request.form.get("scheduled_for") or "").strip()
    if not text:
        return None
    try:
        local = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return local.replace(tzinfo=ZoneInfo(g.business.zone_name)).astimezone(dt.UTC)


@bp.post("/campaigns/<int:campaign_id>/send")
@login_required
def send(campaign_id: int) -> Response:
    """Send a draft now, or schedule it."""
    at = _scheduled_for()
    run_action(
        lambda: services.send_campaign(
            get_session(), actor=current_actor(), campaign_id=campaign_id, at=at
        ),
        done=lambda c: (
            f"{c.recipients_total} email{'' if c.recipients_total == 1 else 's'} queued"
            + (" for later." if c.status == CampaignStatus.SCHEDULED else ".")
        ),
    )
    return redirect(url_for("campaigns.show", campaign_id=campaign_id))


def _action(name: str, func: Any, done: str) -> None:
    def view(campaign_id: int) -> Response:
        run_action(
            lambda: func(get_session(), actor=current_actor(), campaign_id=campaign_id), done=done
        )
        return redirect(url_for("campaigns.show", campaign_id=campaign_id))

    view.__name__ = name
    view.__doc__ = done
    bp.post(f"/campaigns/<int:campaign_id>/{name}")(login_required(view))


_action("pause", services.pause_campaign, "Campaign paused.")
_action("resume", services.resume_campaign, "Campaign resumed.")
_action("cancel", services.cancel_campaign, "Campaign cancelled: no more of its email is sent.")
