"""Pages: find partners, propose and answer terms, and run a partnership."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import case, func, or_
from sqlmodel import select
from werkzeug.wrappers import Response

from referral.auth.current import login_required, roles_required
from referral.businesses.actor import current_actor
from referral.businesses.models import Business, Trade
from referral.db import get_session
from referral.errors import DomainError
from referral.forms import run_action
from referral.listing import page_of
from referral.partnerships import services
from referral.partnerships.discovery import discover_partners
from referral.partnerships.history import partnership_page_data
from referral.partnerships.models import PartnerBlock, Partnership, PartnershipStatus, Proposal
from referral.partnerships.schemas import parse_terms_form
from referral.partnerships.terms import BASES, TermsOffer

bp = Blueprint("partnerships", __name__)

PER_PAGE = 20
MANAGERS = ("owner", "manager")


def _page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


@bp.get("/partners")
@login_required
def discover() -> str:
    """Businesses I could partner with."""
    db = get_session()
    trade = request.args.get("trade") or None
    name = request.args.get("q") or None
    page = _page_number()
    candidates, total = discover_partners(
        session=db, business=g.business, trade_slug=trade, name=name, page=page, per_page=PER_PAGE
    )
    trades = db.exec(select(Trade).order_by(Trade.name)).all()
    return render_template(
        "partnerships/discover.html",
        candidates=candidates,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        trades=trades,
        trade=trade,
        q=name or "",
    )


DEFAULT_TERMS = TermsOffer(basis="percent", rate_bps=1000, hold_days=14, response_window_hours=48)


def _render_terms_form(
    template: str, *, partner: Business, status: int = 200, **context: Any
) -> tuple[str, int]:
    context.setdefault("errors", {})
    context.setdefault("form", {})
    context.setdefault("they_refer_to_me", DEFAULT_TERMS)
    context.setdefault("i_refer_to_them", DEFAULT_TERMS)
    return render_template(template, partner=partner, bases=BASES, **context), status


@bp.route("/partners/<int:business_id>/propose", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def propose(business_id: int) -> Response | tuple[str, int]:
    """Propose a partnership with terms for each direction."""
    db = get_session()
    partner = db.get(Business, business_id)
    if partner is None or partner.id == g.business.id:
        abort(404)
    if request.method == "GET":
        return _render_terms_form("partnerships/propose.html", partner=partner)
    pair, message, errors = parse_terms_form(request.form)
    if pair is None:
        return _render_terms_form(
            "partnerships/propose.html",
            partner=partner,
            errors=errors,
            form=request.form,
            status=422,
        )
    try:
        partnership = services.propose_partnership(
            session=db, actor=current_actor(), partner_id=business_id, terms=pair, message=message
        )
    except DomainError as error:
        if error.status == 404:
            raise
        flash(error.message, "error")
        return _render_terms_form(
            "partnerships/propose.html", partner=partner, form=request.form, status=error.status
        )
    flash(f"Proposal sent to {partner.name}.", "success")
    return redirect(url_for("partnerships.detail", partnership_id=partnership.id))


@bp.get("/partnerships")
@login_required
def index() -> str:
    """My partnerships, live ones first."""
    me = g.business.id
    low, high = Partnership.business_low_id, Partnership.business_high_id
    live_first = case(
        (Partnership.status == PartnershipStatus.PROPOSED, 0),
        (Partnership.status == PartnershipStatus.ACTIVE, 1),
        (Partnership.status == PartnershipStatus.PAUSED, 2),
        else_=3,
    )
    listing = page_of(
        get_session(),
        select(Partnership, Business)
        .join(Business, Business.id == case((low == me, high), else_=low))
        .where(or_(low == me, high == me)),
        sorts={
            "status": live_first,
            "partner": Business.name,
            "date": func.coalesce(Partnership.activated_at, Partnership.created_at),
        },
        default="status",
        tiebreak=Partnership.id,
    )
    return render_template("partnerships/index.html", listing=listing)


@bp.get("/partnerships/<int:partnership_id>")
@login_required
def detail(partnership_id: int) -> str:
    """One partnership: terms in force, the open proposal, versions and history."""
    data = partnership_page_data(
        session=get_session(), business=g.business, partnership_id=partnership_id
    )
    return render_template(
        "partnerships/detail.html", can_manage=g.user.role in MANAGERS, bases=BASES, **data
    )


def _act(partnership_id: int, action: Any, done: str, **kwargs: Any) -> Response:
    """Run one partnership action; a refused action is a flash message, not a crash."""
    run_action(
        lambda: action(
            session=get_session(), actor=current_actor(), partnership_id=partnership_id, **kwargs
        ),
        done=done,
    )
    return redirect(url_for("partnerships.detail", partnership_id=partnership_id))


@bp.post("/partnerships/<int:partnership_id>/accept")
@roles_required(*MANAGERS)
def accept(partnership_id: int) -> Response:
    return _act(partnership_id, services.accept_proposal, "Terms accepted.")


@bp.post("/partnerships/<int:partnership_id>/decline")
@roles_required(*MANAGERS)
def decline(partnership_id: int) -> Response:
    reason = (request.form.get("reason") or "").strip()[:2000]
    return _act(partnership_id, services.decline_proposal, "Proposal declined.", reason=reason)


@bp.post("/partnerships/<int:partnership_id>/withdraw")
@roles_required(*MANAGERS)
def withdraw(partnership_id: int) -> Response:
    return _act(partnership_id, services.withdraw_proposal, "Proposal withdrawn.")


@bp.post("/partnerships/<int:partnership_id>/pause")
@roles_required(*MANAGERS)
def pause(partnership_id: int) -> Response:
    return _act(partnership_id, services.pause_partnership, "Partnership paused.")


@bp.post("/partnerships/<int:partnership_id>/resume")
@roles_required(*MANAGERS)
def resume(partnership_id: int) -> Response:
    return _act(partnership_id, services.resume_partnership, "Partnership resumed.")


@bp.post("/partnerships/<int:partnership_id>/end")
@roles_required(*MANAGERS)
def end(partnership_id: int) -> Response:
    return _act(partnership_id, services.end_partnership, "Partnership ended.")


@bp.route("/partnerships/<int:partnership_id>/counter", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def counter(partnership_id: int) -> Response | tuple[str, int]:
    """Answer the open proposal with other terms."""
    return _terms_change(partnership_id, services.counter_proposal, "counter")


@bp.route("/partnerships/<int:partnership_id>/amend", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def amend(partnership_id: int) -> Response | tuple[str, int]:
    """Propose new terms for an agreed partnership."""
    return _terms_change(partnership_id, services.propose_amendment, "amend")


def _terms_change(partnership_id: int, action: Any, mode: str) -> Response | tuple[str, int]:
    db = get_session()
    partnership = services.get_partnership(
        session=db, business_id=g.business.id, partnership_id=partnership_id
    )
    partner = db.get(Business, partnership.other_id(g.business.id))
    assert partner is not None
    context: dict[str, Any] = {"partnership": partnership, "mode": mode}
    if request.method == "GET":
        context.update(_prefill(db, partnership))
        return _render_terms_form("partnerships/change_terms.html", partner=partner, **context)
    pair, message, errors = parse_terms_form(request.form)
    if pair is None:
        return _render_terms_form(
            "partnerships/change_terms.html",
            partner=partner,
            errors=errors,
            form=request.form,
            status=422,
            **context,
        )
    done = "Counter-proposal sent." if mode == "counter" else "New terms proposed."
    return _act(partnership_id, action, done, terms=pair, message=message)


def _prefill(db: Any, partnership: Any) -> dict[str, TermsOffer]:
    """Start from the open proposal, or else the terms in force, seen from my side."""
    proposal = services.open_proposal(db, partnership)
    if proposal is None:
        version = services.current_version(db, partnership)
        if version is None:
            return {}
        proposal = db.get(Proposal, version.proposal_id)
    rows = services.proposal_terms(db, proposal)
    mine, theirs = g.business.id, partnership.other_id(g.business.id)
    return {
        "they_refer_to_me": TermsOffer.from_row(rows[theirs]),
        "i_refer_to_them": TermsOffer.from_row(rows[mine]),
    }


@bp.post("/partners/<int:business_id>/block")
@roles_required(*MANAGERS)
def block(business_id: int) -> Response:
    """Hide a business from me, and me from it."""
    services.block_business(session=get_session(), actor=current_actor(), business_id=business_id)
    flash("Blocked. You and this business no longer see each other.", "success")
    return redirect(url_for("partnerships.discover"))


@bp.post("/partners/<int:business_id>/unblock")
@roles_required(*MANAGERS)
def unblock(business_id: int) -> Response:
    services.unblock_business(session=get_session(), actor=current_actor(), business_id=business_id)
    flash("Unblocked.", "success")
    return redirect(url_for("partnerships.blocked"))


@bp.get("/partners/blocked")
@login_required
def blocked() -> str:
    """Businesses I have blocked."""
    db = get_session()
    rows = db.exec(
        select(Business)
        .join(PartnerBlock, PartnerBlock.blocked_id == Business.id)
        .where(PartnerBlock.blocker_id == g.business.id)
        .order_by(Business.name)
    ).all()
    return render_template("partnerships/blocked.html", businesses=rows)
