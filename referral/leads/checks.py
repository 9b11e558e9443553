"""Rules that both selling and buying a lead apply."""

from __future__ import annotations

from sqlmodel import Session, select

from referral.payments.models import ConnectedAccount

# Why a staff member may not sell or buy a lead (auth.roles.require_role).
MANAGERS_ONLY = "Only owners and managers can sell or buy leads."


def ready_to_be_paid(session: Session, business_id: int) -> bool:
    account = session.exec(
        select(ConnectedAccount).where(ConnectedAccount.business_id == business_id)
    ).first()
    return bool(account and account.charges_enabled and account.payouts_enabled)
