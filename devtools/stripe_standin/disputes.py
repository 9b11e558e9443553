"""Disputes, opened and closed from the dashboard page (or its JSON twins)."""

from __future__ import annotations

from .base import Resource, StripeError, now
from .events import publish
from .payments import Charge
from .transfers import BalanceTransaction

DISPUTE_FEE = 1500  # what Stripe withdraws besides the amount; kept even if won
RESPONSE_WINDOW_SECONDS = 7 * 24 * 3600
OUTCOMES = ("won", "lost")  # how a chargeback closes
# An inquiry (a "warning" dispute) moves no money; it closes as warning_closed,
# or as prevented when it is stopped before becoming a chargeback.
INQUIRY_OUTCOMES = ("warning_closed", "prevented")
CLOSED = (*OUTCOMES, *INQUIRY_OUTCOMES)


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
        """Stripe takes the disputed amount and its dispute fee from the
        platform's balance at once (net = -(amount + fee))."""
        return BalanceTransaction(
            amount=-(charge.amount - charge.amount_refunded),
            currency=charge.currency,
            type="adjustment",
            reporting_category="dispute",
            description=f"Chargeback withdrawal for {charge.id}",
            source=self.id,
            fee=DISPUTE_FEE,
            fee_description="Dispute fee",
        )._export()

    @classmethod
    def _open(cls, charge_id: str, reason: str = "fraudulent", *, inquiry: bool = False) -> Dispute:
        """The cardholder disputes a charge (a chargeback) or its bank only asks
        about it (an inquiry, no money withdrawn). Fails unless the charge
        succeeded and has no dispute."""
        charge = Charge._get(charge_id)
        if charge.status != "succeeded":
            raise StripeError(400, f"Charge {charge.id} did not succeed; nothing to dispute.")
        if charge.dispute:
            raise StripeError(400, f"Charge {charge.id} already has dispute {charge.dispute}.")
        if charge.amount_refunded >= charge.amount:
            raise StripeError(400, f"Charge {charge.id} is fully refunded; nothing to dispute.")
        dispute = cls(charge, reason)
        if inquiry:
            dispute.status = "warning_needs_response"
            dispute.balance_transactions = []
        charge.dispute = dispute.id
        charge.disputed = True
        publish("charge.dispute.created", dispute)
        return dispute

    def _close(self, outcome: str) -> Dispute:
        """The bank decides. Fails unless the dispute is still open."""
        if self.status in CLOSED:
            raise StripeError(400, f"Dispute {self.id} is already closed ({self.status}).")
        allowed = INQUIRY_OUTCOMES if self.status.startswith("warning_") else OUTCOMES
        if outcome not in allowed:
            raise StripeError(400, f"outcome must be one of {allowed}, not {outcome!r}.")
        self.status = outcome
        if outcome == "won":
            # The amount comes back; the dispute fee does not.
            self.balance_transactions.append(
                BalanceTransaction(
                    amount=self.amount,
                    currency=self.currency,
                    type="adjustment",
                    reporting_category="dispute_reversal",
                    description=f"Chargeback reversal for {self.charge}",
                    source=self.id,
                )._export()
            )
        publish("charge.dispute.closed", self)
        return self
