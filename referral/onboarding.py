"""First steps: what a new business does to get its first referral paid, as
a checklist on its home page that ticks itself off from what it has done and
disappears once everything is done."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, exists, or_, select
from sqlmodel import Session

from referral.auth.models import User
from referral.businesses.models import Business
from referral.customers.models import Customer
from referral.partnerships.models import Partnership
from referral.payments.models import BillingProfile, ConnectedAccount


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    endpoint: str  # where to do it
    done: bool


@functools.cache
def _what_is_done() -> Select[Any]:
    """The checklist's one statement, built once with the business a bound
    parameter: the home page runs it on every visit, and building it anew
    cost about a fifth of the page's CPU."""
    business_id = bindparam("business_id")
    return select(
        exists().where(
            or_(
                Partnership.business_low_id == business_id,
                Partnership.business_high_id == business_id,
            ),
            Partnership.status.in_(("proposed", "active", "paused")),  # type: ignore[attr-defined]
        ),
        exists().where(Customer.business_id == business_id),
        exists().where(
            ConnectedAccount.business_id == business_id,
            ConnectedAccount.payouts_enabled.is_(True),  # type: ignore[attr-defined]
            ConnectedAccount.charges_enabled.is_(True),  # type: ignore[attr-defined]
        ),
        exists().where(
            BillingProfile.business_id == business_id,
            BillingProfile.payment_method_id.is_not(None),  # type: ignore[union-attr]
            BillingProfile.payment_method_id != "",
        ),
    )


def first_steps(session: Session, user: User, business: Business) -> list[Step]:
    """The checklist, in the order a new business works through it; what is
    done is read in one statement (the home page's budget, tests/test_statement_budgets.py)."""
    partnered, has_customers, can_be_paid, can_pay = session.execute(
        _what_is_done(), {"business_id": business.id}
    ).one()
    return [
        Step(
            "verify",
            "Confirm your email address",
            "auth.resend_verification",
            user.email_verified_at is not None,
        ),
        Step(
            "profile",
            "Complete your profile (description and phone)",
            "businesses.edit_profile",
            bool(business.description and business.phone),
        ),
        Step("partner", "Find a partner and propose terms", "partnerships.discover", partnered),
        Step("connect", "Connect Stripe to get paid", "payments.index", can_be_paid),
        Step("card", "Add a card to pay commissions you owe", "payments.index", can_pay),
        Step(
            "customers",
            "Add your customers, or import them from a CSV file",
            "customers.index",
            has_customers,
        ),
    ]
