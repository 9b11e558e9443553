"""The one rule for what a receiving business may see of a customer
(DESIGN.md section 12).

A receiver (the partner a referral was sent to, or a business that bought a
lead) sees the customer's identifying data (name, email, phone, street
address, notes, the consent text, uploaded forms) only once the customer has
consented AND the receiver has taken the customer on (accepted the referral,
paid for the lead), and never again after a refusal, a withdrawal, an
erasure, a decline, an expiry, a withdrawal by the sender or a refund.

The referring business (whose customer it is) and the customer always see
everything. Pages, API answers, exports, emails and notifications ask
`receiver_sight` through the adapters in referrals and leads
(`referrals.services.customer_sight`, `leads.contact.buyer_sight`); nothing
else decides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    """Where the receiver stands with the customer, whatever the subject."""

    AWAITING_CONSENT = "awaiting_consent"  # the customer has not answered
    REFUSED = "refused"  # the customer said no
    OFFERED = "offered"  # consented; not yet accepted (or paid for)
    TAKEN = "taken"  # accepted (then won or lost), or paid for
    DECLINED = "declined"  # the receiver said no
    EXPIRED = "expired"  # nobody answered in time
    CLOSED = "closed"  # the sender (or seller) took it back
    REFUNDED = "refunded"  # a lead purchase paid back


class ConsentState(StrEnum):
    NONE = "none"  # not answered
    GIVEN = "given"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Sight:
    """What one business may see of one referral's (or lead's) customer."""

    identity: bool  # name, email, phone, address, notes, consent text, forms
    full_receipt: bool  # the whole consent receipt; otherwise that it exists and its hash check
    message: str  # why not, in words for the receiver's pages ("" when it sees all)


OWNER_SIGHT = Sight(identity=True, full_receipt=True, message="")

_WHY_NOT = {
    "erased": "The customer's details were erased at their request.",
    ConsentState.WITHDRAWN: "The customer withdrew their consent; their details were removed.",
    ConsentState.REFUSED: "The customer declined to be referred; nothing was shared.",
    Stage.REFUSED: "The customer declined to be referred; nothing was shared.",
    Stage.DECLINED: "This referral was declined; the customer's details are not shared.",
    Stage.EXPIRED: "This expired without an answer; the customer's details are not shared.",
    Stage.CLOSED: "The business that sent this withdrew it; the customer's details were removed.",
    Stage.REFUNDED: "This purchase was refunded; the customer's details are no longer shown.",
    Stage.AWAITING_CONSENT: "The customer has not answered yet; nothing is shared before a yes.",
    Stage.OFFERED: "Contact details appear once you accept, while the customer's consent stands.",
    Stage.TAKEN: "Nothing is shared without the customer's consent.",
}


def receiver_sight(*, stage: Stage, consent: ConsentState, erased: bool) -> Sight:
    """The rule: identifying data only after consent AND taking the customer on,
    never after refusal, withdrawal, erasure, decline, expiry or closing."""
    if not erased and consent is ConsentState.GIVEN and stage is Stage.TAKEN:
        return Sight(identity=True, full_receipt=True, message="")
    if erased:
        reason: object = "erased"
    elif consent in (ConsentState.WITHDRAWN, ConsentState.REFUSED):
        reason = consent
    else:
        reason = stage
    return Sight(identity=False, full_receipt=False, message=_WHY_NOT[reason])  # type: ignore[index]
