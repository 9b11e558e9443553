"""Getting paid (a Stripe Express account) and paying (a saved card).

Stripe's answers to the pages are only a start: the state a business sees comes
from webhook events (`account.updated`, `checkout.session.completed`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from referral.auth.models import User
from referral.auth.roles import MANAGING_ROLES, require_role
from referral.businesses.actor import Actor
from referral.businesses.models import Business
from referral.db import utcnow
from referral.payments import events as payment_events
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


def live_state(overview: PaymentsOverview) -> str:
    """What the payments page shows of the card and the account, in one
    string that changes whenever the page would (referral/live.py)."""
    account, billing = overview.account, overview.billing
    return "|".join(
        [
            billing.payment_method_id or "" if billing else "",
            account.stripe_account_id if account else "",
            str(overview.can_be_paid),
            ",".join(overview.missing),
        ]
    )


def done_waiting(overview: PaymentsOverview, waiting: str) -> bool:
    """Whether what the page waits for after a return from Stripe has
    happened: `card` a saved card, `connect` an account that can be paid."""
    if waiting == "card":
        return overview.can_pay
    if waiting == "connect":
        return overview.can_be_paid
    return True


def _require_manager(actor: Actor) -> None:
    require_role(
        actor.role, MANAGING_ROLES, "Only owners and managers can change payment settings."
    )


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
    _take_state(session, account, gateway.account_state_from_event(obj), as_of=as_of)
    return "applied"


def _take_state(
    session: Session, account: ConnectedAccount, state: gateway.AccountState, *, as_of: dt.datetime
) -> None:
    was_ready = account.payouts_enabled and account.charges_enabled
    _apply_account_state(account, state)
    account.state_as_of = as_of
    if account.payouts_enabled and account.charges_enabled and not was_ready:
        payment_events.account_ready(session, account.business_id)


def refresh_account(*, session: Session, actor: Actor) -> ConnectedAccount | None:
    """Fetch the business's connected account from Stripe and apply its state (the
    user is back from onboarding: no need to wait for `account.updated`).
    Raises gateway.PaymentsUnavailable / PaymentRefused when Stripe does not answer."""
    account = connected_account(session, actor.business_id)
    if account is None:
        return None
    as_of = utcnow().replace(microsecond=0)  # events carry whole seconds
    state = gateway.retrieve_account(account.stripe_account_id)
    if account.state_as_of is None or account.state_as_of <= as_of:
        _take_state(session, account, state, as_of=as_of)
    return account


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


def apply_checkout_completed(
    session: Session, obj: dict[str, Any], *, as_of: dt.datetime
) -> str | None:
    """Apply `checkout.session.completed` for a card-setup session: the card is
    saved. A payment session is the business of what it pays for (None here)."""
    if obj.get("mode") == "payment":
        return None
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
    # A new card: what waits for one, or was declined on the old one, goes now.
    payment_events.card_saved(session, profile.business_id)
    return "applied"
