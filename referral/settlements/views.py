"""Pages: settlements with their lines, and "settle now"."""

from __future__ import annotations

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from sqlmodel import select

from referral.auth.current import login_required
from referral.businesses.models import Business
from referral.commissions.services import approve_due
from referral.db import get_session, utcnow
from referral.settlements import services, statements
from referral.settlements.models import WAITING_REASONS

bp = Blueprint("settlements", __name__)


def _names(ids: set[int]) -> dict[int, str]:
    rows = get_session().exec(select(Business.id, Business.name).where(Business.id.in_(ids)))
    return dict(rows.all())


@bp.get("/settlements")
@login_required
def index() -> str:
    settlements = services.list_settlements(get_session(), g.business.id)
    ids = {s.debtor_id for s in settlements} | {s.creditor_id for s in settlements}
    return render_template(
        "settlements/index.html",
        settlements=settlements,
        names=_names(ids) if ids else {},
        reasons=WAITING_REASONS,
    )


@bp.get("/settlements/<int:settlement_id>")
@login_required
def show(settlement_id: int) -> str:
    db = get_session()
    settlement = services.get_settlement(db, g.business.id, settlement_id)
    lines = services.lines_of(db, settlement_id)
    return render_template(
        "settlements/show.html",
        settlement=settlement,
        lines=lines,
        names=_names({settlement.debtor_id, settlement.creditor_id}),
        reasons=WAITING_REASONS,
    )


@bp.post("/settlements/run")
@login_required
def settle_now() -> Response:
    """Settle this business's partnerships now instead of waiting for the weekly run."""
    if g.user.role not in ("owner", "manager"):
        flash("Only owners and managers can start a settlement.", "error")
        return redirect(url_for("settlements.index"))
    db = get_session()
    approve_due(db)
    built = services.build_settlements(db, business_id=g.business.id)
    if built:
        flash(f"{len(built)} settlement(s) started.", "success")
    else:
        flash(
            "Nothing to settle: no approved commissions are waiting (or one is under way).", "info"
        )
    return redirect(url_for("settlements.index"))


@bp.get("/statements")
@login_required
def statement() -> str:
    """This business's statement for a month (?month=2026-11)."""
    report = _statement()
    return render_template("settlements/statement.html", report=report)


@bp.get("/statements.csv")
@login_required
def statement_csv() -> Response:
    report = _statement()
    return Response(
        statements.as_csv(report),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="statement-{report.month:%Y-%m}.csv"'
        },
    )


def _statement() -> statements.Statement:
    month = statements.parse_month(request.args.get("month"), today=utcnow().date())
    return statements.statement(get_session(), g.business.id, month)
