"""Rules that both selling and buying a lead apply."""

from __future__ import annotations

from sqlmodel import Session, select

from referral.auth.roles import MANAGING_ROLES
from referral.businesses.actor import Actor
from referral.errors import PermissionDenied
from referral.payments.models import ConnectedAccount


def require_manager(actor: Actor) -> None:
    if actor.role not in MANAGING_ROLES:
        raise PermissionDenied("Only owners and managers can sell or buy leads.")


def ready_to_be_paid(session: Session, business_id: int) -> bool:
    account = session.exec(
        select(ConnectedAccount).where(ConnectedAccount.business_id == business_id)
    ).first()
    return bool(account and account.charges_enabled and account.payouts_enabled)
