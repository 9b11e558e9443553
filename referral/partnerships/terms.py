"""Commission terms: what one side pays the other for each referral, in one direction."""

from __future__ import annotations

from dataclasses import dataclass

from referral.money import format_cents
from referral.partnerships.models import ProposalTerms
from referral.templating import template_filter

BASES = {
    "percent": "Percent of the job value",
    "flat_per_won": "Flat fee per won job",
    "flat_per_accepted": "Flat fee per accepted referral",
}


@dataclass(frozen=True)
class TermsOffer:
    """Validated terms for one direction (the schemas enforce the ranges)."""

    basis: str
    rate_bps: int | None = None
    flat_fee_cents: int | None = None
    cap_cents: int | None = None
    hold_days: int = 14
    response_window_hours: int = 48
    currency: str = "USD"

    def as_row(self, *, proposal_id: int, referrer_id: int, payer_id: int) -> ProposalTerms:
        return ProposalTerms(
            proposal_id=proposal_id,
            referrer_id=referrer_id,
            payer_id=payer_id,
            basis=self.basis,
            rate_bps=self.rate_bps if self.basis == "percent" else None,
            flat_fee_cents=None if self.basis == "percent" else self.flat_fee_cents,
            cap_cents=self.cap_cents,
            currency=self.currency,
            hold_days=self.hold_days,
            response_window_hours=self.response_window_hours,
        )

    @classmethod
    def from_row(cls, row: ProposalTerms) -> TermsOffer:
        return cls(
            basis=row.basis,
            rate_bps=row.rate_bps,
            flat_fee_cents=row.flat_fee_cents,
            cap_cents=row.cap_cents,
            hold_days=row.hold_days,
            response_window_hours=row.response_window_hours,
            currency=row.currency,
        )


@template_filter("describe_terms")  # terms.py is a `reactions` module (domains.py)
def describe_terms(terms: ProposalTerms | TermsOffer) -> str:
    """One line a person can read: "12.5% of the job value, capped at $500.00; ..."."""
    if terms.basis == "percent":
        bps = terms.rate_bps or 0
        percent = f"{bps // 100}" if bps % 100 == 0 else f"{bps / 100:.2f}".rstrip("0")
        amount = f"{percent}% of the job value"
    elif terms.basis == "flat_per_won":
        amount = f"{format_cents(terms.flat_fee_cents or 0, terms.currency)} per won job"
    else:
        amount = f"{format_cents(terms.flat_fee_cents or 0, terms.currency)} per accepted referral"
    if terms.cap_cents:
        amount += f", capped at {format_cents(terms.cap_cents, terms.currency)}"
    hold = "no hold" if terms.hold_days == 0 else f"held {terms.hold_days} days"
    return f"{amount}; {hold}; answer within {terms.response_window_hours} hours"
