"""Disputes, opened and closed from the dashboard page (or its JSON twins)."""

from __future__ import annotations

from .base import Resource, StripeError, now
from .events import publish
from .payments import Charge
from .transfers import BalanceTransaction

DISPUTE_FEE = 1500  # what Stripe withdraws besides the amount; given back if won
RESPONSE_WINDOW_SECONDS = 7 * 24 * 3600
OUTCOMES = ("won", "lost")


class Dispute(Resource):
    object = "dispute"
    _id_prefix = "dp_"

    def __init__(self, charge: Charge, reason: str) -> None:
        super().__init__()
        self.amount = charge.amount - charge.amount_refunded
        self.balance_transactions = [self._withdrawal(charge)]
        self.charge = charge.id
        self.currency = charge.currency
        self.evidence: dict[str, object] = {}
        self.evidence_details = {
            "due_by": now() + RESPONSE_WINDOW_SECONDS,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        }
        self.is_charge_refundable = False
        self.metadata: dict[str, str] = {}
        self.payment_intent = charge.payment_intent
        self.reason = reason
        self.status = "needs_response"

    def _withdrawal(self, charge: Charge) -> dict[str, object]:
        return BalanceTransaction(
            amount=-(charge.amount - charge.amount_refunded),
            currency=charge.currency,
            type="adjustment",
            source=self.id,
            fee=DISPUTE_FEE,
        )._export()

    @classmethod
    def _open(cls, charge_id: str, reason: str = "fraudulent") -> Dispute:
        """The cardholder disputes a charge. Fails unless it succeeded and has no dispute."""
        charge = Charge._get(charge_id)
        if charge.status != "succeeded":
            raise StripeError(400, f"Charge {charge.id} did not succeed; nothing to dispute.")
        if charge.dispute:
            raise StripeError(400, f"Charge {charge.id} already has dispute {charge.dispute}.")
        if charge.amount_refunded >= charge.amount:
            raise StripeError(400, f"Charge {charge.id} is fully refunded; nothing to dispute.")
        dispute = cls(charge, reason)
        charge.dispute = dispute.id
        charge.disputed = True
        publish("charge.dispute.created", dispute)
        return dispute

    def _close(self, outcome: str) -> Dispute:
        """The bank decides. Fails unless the dispute is still open."""
        if outcome not in OUTCOMES:
            raise StripeError(400, f"outcome must be one of {OUTCOMES}, not {outcome!r}.")
        if self.status in OUTCOMES:
            raise StripeError(400, f"Dispute {self.id} is already closed ({self.status}).")
        self.status = outcome
        if outcome == "won":
            self.balance_transactions.append(
                BalanceTransaction(
                    amount=self.amount, currency=self.currency, type="adjustment", source=self.id
                )._export()
            )
        publish("charge.dispute.closed", self)
        return self
