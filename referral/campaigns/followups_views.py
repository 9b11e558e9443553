"""Pages: a business's follow-up rules, composing one with a preview on a
real customer's data, and what each sent and brought (owners and managers
manage them; staff may look). Reached from the campaigns page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from sqlmodel import col, select
from werkzeug.wrappers import Response

from referral import live
from referral.auth.current import login_required
from referral.auth.roles import MANAGING_ROLES
from referral.businesses.actor import current_actor
from referral.campaigns import followups, services
from referral.campaigns.models import FollowUpRule
from referral.campaigns.schemas import FollowUpFormSchema
from referral.campaigns.services import MERGE_FIELDS
from referral.customers.marketing import NO_POSTAL_ADDRESS
from referral.customers.models import Customer, CustomerJob
from referral.db import get_session
from referral.errors import DomainError
from referral.forms import parse_form, run_action
from referral.restapi import paginate

bp = Blueprint("follow_ups", __name__)

PER_PAGE = 50
HOURS = [(hour, f"{hour:02d}:00") for hour in range(24)]
PREVIEW_CHOICES = 20


def _trades() -> list[str]:
    return list(
        get_session().exec(
            select(CustomerJob.trade)
            .where(CustomerJob.business_id == g.business.id, CustomerJob.trade != "")
            .distinct()
            .order_by(CustomerJob.trade)
        )
    )


def _recent_customers() -> list[Customer]:
    """The customers of the most recent jobs, to preview a message with."""
    rows = get_session().exec(
        select(Customer)
        .join(CustomerJob, col(CustomerJob.customer_id) == Customer.id)
        .where(Customer.business_id == g.business.id, col(Customer.erased_at).is_(None))
        .order_by(col(CustomerJob.job_date).desc(), col(CustomerJob.id).desc())
        .limit(PREVIEW_CHOICES * 3)
    )
    seen: dict[int, Customer] = {}
    for customer in rows:
        seen.setdefault(customer.id or 0, customer)
    return list(seen.values())[:PREVIEW_CHOICES]


def _rule(rule_id: int) -> FollowUpRule:
    return followups.get_rule(get_session(), business_id=g.business.id, rule_id=rule_id)


@bp.get("/follow-ups")
@login_required
def index() -> str:
    """Every follow-up rule of the business, newest first."""
    db = get_session()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    listing = paginate(
        db, followups.list_rules_query(business_id=g.business.id), page=page, per_page=PER_PAGE
    )
    counts = {r.id: followups.rule_counts(db, r) for r in listing["items"]}
    pages = max(1, -(-listing["total"] // PER_PAGE))
    return render_template(
        "campaigns/follow_ups.html",
        listing=listing,
        counts=counts,
        page=page,
        pages=pages,
        can_run=g.user.role in MANAGING_ROLES,
    )


def _form_page(status: int = 200, **context: Any) -> tuple[str, int]:
    context.setdefault("errors", {})
    context.setdefault("form", {})
    context.setdefault("chosen_offers", [])
    context.setdefault("rule", None)
    return render_template(
        "campaigns/follow_up_form.html",
        trades=_trades(),
        hours=HOURS,
        offers=services.offers_to_include(get_session(), g.business.id),
        merge_fields=MERGE_FIELDS,
        can_run=g.user.role in MANAGING_ROLES,
        no_postal_address=NO_POSTAL_ADDRESS if not g.business.postal_address.strip() else "",
        zone_name=g.business.zone_name,
        **context,
    ), status


def _submit(rule: FollowUpRule | None) -> Response | tuple[str, int]:
    chosen_offers = request.form.getlist("offer_ids")
    data, errors = parse_form(FollowUpFormSchema(), request.form)
    context: dict[str, Any] = {"form": request.form, "chosen_offers": chosen_offers, "rule": rule}
    if not all(offer_id.isdigit() for offer_id in chosen_offers):
        errors = {**errors, "offer_ids": ["Choose offers from the list."]}
    if errors:
        return _form_page(422, errors=errors, **context)
    db = get_session()
    values = {**data, "offer_ids": [int(offer_id) for offer_id in chosen_offers]}
    try:
        if request.form.get("action") == "preview":
            services.check_merge_fields(subject=data["subject"], body=data["body"])
            shown = followups.preview(
                db, business=g.business, subject=data["subject"], body=data["body"]
            )
            return _form_page(200, preview=shown, **context)
        if rule is None:
            saved = followups.create_rule(db, actor=current_actor(), **values)
        else:
            saved = followups.update_rule(db, actor=current_actor(), rule_id=rule.id or 0, **values)
    except DomainError as error:
        if error.status == 404:
            raise
        db.rollback()
        return _form_page(422, errors=error.errors or {"": [error.message]}, **context)
    return redirect(url_for("follow_ups.show", rule_id=saved.id))


@bp.route("/follow-ups/new", methods=["GET", "POST"])
@login_required
def new() -> Response | tuple[str, int]:
    """Compose a follow-up rule, with a preview on a real customer's data."""
    if request.method == "GET":
        return _form_page(form={"send_hour": "10"})
    return _submit(None)


@bp.route("/follow-ups/<int:rule_id>/edit", methods=["GET", "POST"])
@login_required
def edit(rule_id: int) -> Response | tuple[str, int]:
    """Change a rule's message, timing and offers."""
    rule = _rule(rule_id)
    if request.method == "GET":
        form = {
            "name": rule.name,
            "days_after": str(rule.days_after),
            "trade": rule.trade,
            "subject": rule.subject,
            "body": rule.body,
            "send_hour": str(rule.send_hour),
        }
        return _form_page(form=form, chosen_offers=[str(i) for i in rule.offer_ids], rule=rule)
    return _submit(rule)


@bp.get("/follow-ups/<int:rule_id>")
@login_required
def show(rule_id: int) -> str:
    """A rule: its message merged for a real customer, what it sent and what it brought."""
    db = get_session()
    rule = _rule(rule_id)
    customer_id = request.args.get("customer_id", type=int)
    try:
        shown = followups.preview(
            db, business=g.business, subject=rule.subject, body=rule.body, customer_id=customer_id
        )
    except DomainError:
        abort(404)
    counts = followups.rule_counts(db, rule)
    return render_template(
        "campaigns/follow_up.html",
        rule=rule,
        counts=counts,
        live_state=_live_state(rule, counts),
        results=followups.rule_results(db, rule),
        sends=followups.recent_sends(db, rule),
        offers=[
            (offer, maker)
            for offer, maker in services.offers_to_include(db, g.business.id)
            if offer.id in rule.offer_ids
        ],
        preview=shown,
        preview_paragraphs=services.paragraphs(shown.body),
        customers=_recent_customers(),
        zone_name=g.business.zone_name,
        can_run=g.user.role in MANAGING_ROLES,
        no_postal_address=NO_POSTAL_ADDRESS if not g.business.postal_address.strip() else "",
    )


def _live_state(rule: FollowUpRule, counts: dict[str, int]) -> str:
    return f"{rule.active}:{counts['sent']}:{counts['skipped']}:{counts['failed']}"


@bp.get("/follow-ups/<int:rule_id>/status")
@login_required
def status(rule_id: int) -> Response:
    """A rule's counts, as JSON, for its page while it runs: the worker's
    sends appear without a reload."""
    rule = _rule(rule_id)
    counts = followups.rule_counts(get_session(), rule)
    return live.status(_live_state(rule, counts), done=not rule.active)


def _action(name: str, active: bool, done: str) -> None:
    def view(rule_id: int) -> Response:
        run_action(
            lambda: followups.set_active(
                get_session(), actor=current_actor(), rule_id=rule_id, active=active
            ),
            done=done,
        )
        return redirect(url_for("follow_ups.show", rule_id=rule_id))

    view.__name__ = name
    view.__doc__ = done
    bp.post(f"/follow-ups/<int:rule_id>/{name}")(login_required(view))


_action("pause", False, "Follow-up paused: nothing more is sent until you resume it.")
_action("resume", True, "Follow-up resumed.")
