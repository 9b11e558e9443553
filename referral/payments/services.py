"""Getting paid (a Stripe Express account) and paying (a saved card).

Stripe's answers to the pages are only a start: the state a business sees comes
from webhook events (`account.updated`, `checkout.session.completed`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from referral.businesses.models import Business
from referral.db import utcnow
from referral.errors import PermissionDenied
from referral.partnerships.services import MANAGING_ROLES, Actor
from referral.payments import gateway
from referral.payments.models import BillingProfile, ConnectedAccount

# What Stripe's requirement codes mean to a business owner.
REQUIREMENT_LABELS = {
    "business_profile.url": "your business website",
    "business_profile.mcc": "your business category",
    "external_account": "a bank account for payouts",
    "tos_acceptance.date": "acceptance of Stripe's terms",
    "tos_acceptance.ip": "acceptance of Stripe's terms",
    "individual.verification.document": "an identity document",
    "representative.verification.document": "an identity document",
}


@dataclass(frozen=True)
class PaymentsOverview:
    account: ConnectedAccount | None
    billing: BillingProfile | None

    @property
    def can_be_paid(self) -> bool:
        return bool(self.account and self.account.payouts_enabled and self.account.charges_enabled)

    @property
    def can_pay(self) -> bool:
        return bool(self.billing and self.billing.payment_method_id)

    @property
    def missing(self) -> list[str]:
        if self.account is None:
            return ["a connected Stripe account"]
        labels: list[str] = []
        for code in self.account.requirements_due:
            label = REQUIREMENT_LABELS.get(code, code.replace("_", " ").replace(".", ": "))
            if label not in labels:
                labels.append(label)
        return labels


def _require_manager(actor: Actor) -> None:
    if actor.role not in MANAGING_ROLES:
        raise PermissionDenied("Only owners and managers can change payment settings.")


def overview(session: Session, business_id: int) -> PaymentsOverview:
    return PaymentsOverview(
        account=connected_account(session, business_id),
        billing=session.exec(
            select(BillingProfile).where(BillingProfile.business_id == business_id)
        ).first(),
    )


def connected_account(session: Session, business_id: int) -> ConnectedAccount | None:
    return session.exec(  # type: ignore[no-any-return]
        select(ConnectedAccount).where(ConnectedAccount.business_id == business_id)
    ).first()


def _owner_email(session: Session, business: Business) -> str:
    from referral.auth.models import User

    owner = session.exec(
        select(User).where(User.business_id == business.id, User.role == "owner").order_by(User.id)
    ).first()
    return owner.email if owner else ""


def start_onboarding(*, session: Session, actor: Actor, return_url: str, refresh_url: str) -> str:
    """The Stripe onboarding URL for this business, creating its Express account first."""
    _require_manager(actor)
    account = connected_account(session, actor.business_id)
    if account is None:
        state = gateway.create_express_account(
            email=_owner_email(session, actor.business),
            business_name=actor.business.name,
            business_id=actor.business_id,
        )
        account = ConnectedAccount(
            business_id=actor.business_id, stripe_account_id=state.account_id, updated_at=utcnow()
        )
        _apply_account_state(account, state)
        session.add(account)
        session.flush()
    return gateway.onboarding_link(
        account_id=account.stripe_account_id, refresh_url=refresh_url, return_url=return_url
    )


def _apply_account_state(account: ConnectedAccount, state: gateway.AccountState) -> None:
    account.details_submitted = state.details_submitted
    account.charges_enabled = state.charges_enabled
    account.payouts_enabled = state.payouts_enabled
    account.requirements_due = state.requirements_due
    account.disabled_reason = state.disabled_reason
    account.updated_at = utcnow()


def apply_account_update(session: Session, obj: dict[str, Any], *, as_of: dt.datetime) -> str:
    """Apply `account.updated`: the account object's own state, unless a newer one
    was already applied. Returns a note for the event log."""
    account = session.exec(
        select(ConnectedAccount).where(ConnectedAccount.stripe_account_id == obj.get("id"))
    ).first()
    if account is None:
        return "ignored: not an account of ours"
    if account.state_as_of is not None and as_of < account.state_as_of:
        return "ignored: older than the state already applied"
    was_ready = account.payouts_enabled and account.charges_enabled
    _apply_account_state(account, gateway.account_state_from_event(obj))
    account.state_as_of = as_of
    if account.payouts_enabled and account.charges_enabled and not was_ready:
        from referral.settlements.services import retry_waiting_for

        retry_waiting_for(session, creditor_id=account.business_id)
    return "applied"


def start_card_setup(*, session: Session, actor: Actor, success_url: str, cancel_url: str) -> str:
    """The URL of a Stripe Checkout page (setup mode) where the business saves a card."""
    _require_manager(actor)
    profile = session.exec(
        select(BillingProfile).where(BillingProfile.business_id == actor.business_id)
    ).first()
    if profile is None:
        customer_id = gateway.create_customer(
            email=_owner_email(session, actor.business),
            name=actor.business.name,
            business_id=actor.business_id,
        )
        profile = BillingProfile(
            business_id=actor.business_id, stripe_customer_id=customer_id, updated_at=utcnow()
        )
        session.add(profile)
        session.flush()
    return gateway.card_setup_checkout(
        customer_id=profile.stripe_customer_id,
        success_url=success_url,
        cancel_url=cancel_url,
        business_id=actor.business_id,
    )


def apply_checkout_completed(session: Session, obj: dict[str, Any], *, as_of: dt.datetime) -> str:
    """Apply `checkout.session.completed`: a card-setup session saves the card; a
    payment session for a lead applies its PaymentIntent's own state."""
    if obj.get("mode") == "payment":
        from referral.leads import services as leads

        intent = obj.get("payment_intent")
        if not isinstance(intent, str) or "lead_purchase_id" not in (obj.get("metadata") or {}):
            return "ignored: not a lead purchase"
        return leads.apply_payment(session, gateway.retrieve_payment(intent))
    if obj.get("mode") != "setup":
        return "ignored: not a card setup"
    profile = session.exec(
        select(BillingProfile).where(BillingProfile.stripe_customer_id == obj.get("customer"))
    ).first()
    if profile is None:
        return "ignored: not a customer of ours"
    if profile.card_saved_at is not None and as_of < profile.card_saved_at:
        return "ignored: a newer card is already saved"
    card = gateway.saved_card_of_checkout(str(obj["id"]))
    if card is None:
        return "ignored: the setup did not succeed"
    profile.payment_method_id = card.payment_method_id
    profile.card_brand, profile.card_last4 = card.brand, card.last4
    profile.card_exp_month, profile.card_exp_year = card.exp_month, card.exp_year
    profile.card_saved_at, profile.updated_at = as_of, utcnow()
    from referral.settlements.services import retry_waiting_for

    # A new card: settlements waiting for one, or declined on the old one, go now.
    retry_waiting_for(session, debtor_id=profile.business_id)
    return "applied"
