"""`referral stripe check`: the money path walked on a Stripe account in test mode
(or on the local stand-in), through the same gateway functions the product uses:
onboarding link, saved card, destination charge, refund and dispute.

Real Stripe (an sk_test_ key): Express onboarding is a person's job, so the
charge goes to an account already onboarded in test mode (`--account`), the
card is Stripe's test PaymentMethod `pm_card_visa`, and the dispute comes from
the test card that is always disputed (`pm_card_createDispute`). The stand-in:
its test helpers play the person (onboarding page, dispute button).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from referral.payments import gateway

# Stripe's test PaymentMethods (test mode only): a card that succeeds, and one
# whose payment is disputed as soon as it succeeds.
TEST_CARD = "pm_card_visa"
DISPUTED_CARD = "pm_card_createDispute"
STANDIN_CARDS = {TEST_CARD: "4242424242424242", DISPUTED_CARD: "4242424242424242"}


@dataclass
class Step:
    name: str
    ok: bool
    detail: str


@dataclass
class Check:
    account_id: str | None = None
    steps: list[Step] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)

    def run(self, name: str, action: Callable[[], str]) -> bool:
        try:
            detail = action()
        except (gateway.PaymentsUnavailable, gateway.PaymentRefused, gateway.CardDeclined) as error:
            self.steps.append(Step(name, False, f"{type(error).__name__}: {error}"))
            return False
        except StepFailed as error:
            self.steps.append(Step(name, False, str(error)))
            return False
        self.steps.append(Step(name, True, detail))
        return True


class StepFailed(Exception):
    pass


def on_standin() -> bool:
    return bool(current_app.config.get("STRIPE_API_BASE"))


def _standin(path: str, body: dict[str, Any] | None = None) -> Any:
    base = current_app.config["STRIPE_API_BASE"]
    request = urllib.request.Request(
        f"{base}{path}",
        data=json.dumps(body or {}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def run_check(*, account_id: str | None, run_id: str, base_url: str) -> Check:
    """Every step, in order; a step that needs an earlier one's result is
    skipped (failed) when that one failed."""
    check = Check(account_id=account_id)
    check.run("onboarding link", lambda: _onboarding(check, run_id, base_url))
    check.run("saved card", lambda: _saved_card(check, run_id))
    check.run("destination charge", lambda: _charge(check, run_id, card="card"))
    check.run("refund", lambda: _refund(check, run_id))
    check.run("dispute", lambda: _dispute(check, run_id))
    return check


def _onboarding(check: Check, run_id: str, base_url: str) -> str:
    state = gateway.create_express_account(
        email=f"check-{run_id}@example.com", business_name=f"Stripe check {run_id}", business_id=0
    )
    url = gateway.onboarding_link(
        account_id=state.account_id,
        refresh_url=f"{base_url}/payments/connect/refresh",
        return_url=f"{base_url}/payments/connect/return",
    )
    if on_standin():
        _standin(f"/_standin/accounts/{state.account_id}/complete_onboarding")
        check.account_id = check.account_id or state.account_id
    ready = gateway.retrieve_account(check.account_id) if check.account_id else None
    if ready is None or not (ready.charges_enabled and ready.payouts_enabled):
        raise StepFailed(
            f"link made ({url}); no onboarded account to pay: pass --account acct_..."
            " (an Express account onboarded in test mode)"
        )
    return f"link {url}; paying {check.account_id}"


def _saved_card(check: Check, run_id: str) -> str:
    customer = gateway.create_customer(
        email=f"check-{run_id}@example.com", name=f"Stripe check {run_id}", business_id=0
    )
    check.facts["customer"] = customer
    check.facts["card"] = _attach(customer, TEST_CARD)
    check.facts["disputed_card"] = _attach(customer, DISPUTED_CARD)
    return f"customer {customer}, card {check.facts['card']}"


def _attach(customer_id: str, test_card: str) -> str:
    client = gateway.client()
    with gateway.stripe_errors():
        if on_standin():
            number = STANDIN_CARDS[test_card]
            method = client.v1.payment_methods.create(
                params={
                    "type": "card",
                    "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},  # type: ignore[typeddict-item]
                }
            )
            test_card = method.id
        attached = client.v1.payment_methods.attach(test_card, params={"customer": customer_id})
    return str(attached.id)


def _charge(check: Check, run_id: str, *, card: str) -> str:
    if not (check.account_id and check.facts.get(card)):
        raise StepFailed("skipped: needs the onboarding and saved-card steps")
    payment = gateway.destination_charge(
        amount_cents=20_00,
        currency="usd",
        customer_id=check.facts["customer"],
        payment_method_id=check.facts[card],
        destination_account_id=check.account_id,
        platform_fee_cents=1_00,
        description=f"referral stripe check {run_id}",
        metadata={"stripe_check": run_id},
        idempotency_key=f"stripe-check-{run_id}-{card}",
    )
    if payment.status != "succeeded":
        raise StepFailed(f"PaymentIntent {payment.payment_intent_id} is {payment.status}")
    check.facts[f"{card}_payment"] = payment.payment_intent_id
    check.facts[f"{card}_charge"] = payment.charge_id or ""
    transfer = gateway.transfer_of_charge(payment.charge_id or "")
    if transfer is None or transfer.amount_cents != 19_00:
        raise StepFailed(f"{payment.payment_intent_id}: no $19.00 transfer to the account")
    return f"{payment.payment_intent_id}: $20.00, $1.00 fee, $19.00 to {check.account_id}"


def _refund(check: Check, run_id: str) -> str:
    paid = check.facts.get("card_payment")
    if not paid:
        raise StepFailed("skipped: needs the destination charge")
    refund = gateway.refund_payment(
        payment_intent_id=paid, amount_cents=20_00, idempotency_key=f"stripe-check-{run_id}-refund"
    )
    transfer = gateway.transfer_of_charge(check.facts["card_charge"])
    if transfer is None or transfer.reversed_cents != 19_00:
        raise StepFailed(f"refund {refund}: the transfer was not reversed")
    return f"refund {refund}; transfer reversed"


def _dispute(check: Check, run_id: str) -> str:
    _charge(check, run_id, card="disputed_card")
    charge_id = check.facts["disputed_card_charge"]
    if on_standin():
        _standin(f"/_standin/charges/{charge_id}/dispute", {"reason": "fraudulent"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with gateway.stripe_errors():
            found = gateway.client().v1.disputes.list(params={"charge": charge_id}).data
        if found:
            stage = gateway.dispute_stage(found[0].status)
            return f"dispute {found[0].id} on {charge_id}: {found[0].status} ({stage})"
        time.sleep(1)
    raise StepFailed(f"no dispute on {charge_id} within 30 s")
