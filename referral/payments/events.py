"""What payments tells the domains above it, by registries they fill (dj-stripe style).

Payments receives Stripe's events but does not know what each one pays for:
settlements and lead purchases register handlers by event type, in modules
`referral.domains` lists under their `reactions`, so the web app, the worker
and the CLI all have them. A handler decides from the Stripe object (its
metadata, or a charge id of its own) whether the event is its; it returns
None when not, else the note stored with the event ("ignored: ..." or
"applied: ..."). At most one handler claims an event.

Payments also says when a business becomes able to be paid (its connected
account is ready) or to pay (a card is saved), for settlements waiting on it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlmodel import Session

# (session, the event's object, when Stripe created the event) -> a note, or
# None when the event is not this handler's.
StripeHandler = Callable[[Session, dict[str, Any], dt.datetime], str | None]
STRIPE_HANDLERS: dict[str, list[StripeHandler]] = defaultdict(list)

UNUSED = "ignored: not used"
NOT_OURS = "ignored: not ours"


def stripe_handler(event_type: str) -> Callable[[StripeHandler], StripeHandler]:
    """Register a handler for one Stripe event type (`charge.refunded`)."""

    def register(handler: StripeHandler) -> StripeHandler:
        if handler not in STRIPE_HANDLERS[event_type]:  # a module imported twice
            STRIPE_HANDLERS[event_type].append(handler)
        return handler

    return register


def handled_event_types() -> list[str]:
    """Every event type some domain handles: what the webhook endpoints ask for."""
    return sorted(event_type for event_type, handlers in STRIPE_HANDLERS.items() if handlers)


def dispatch(session: Session, event_type: str, obj: dict[str, Any], as_of: dt.datetime) -> str:
    """The note of the handler that claims the event, or why none did."""
    handlers = STRIPE_HANDLERS.get(event_type)
    if not handlers:
        return UNUSED
    for handler in handlers:
        note = handler(session, obj, as_of)
        if note is not None:
            return note
    return NOT_OURS


# (session, the business's id): it can now be paid, or pay.
ReadyHandler = Callable[[Session, int], None]
ACCOUNT_READY: list[ReadyHandler] = []
CARD_SAVED: list[ReadyHandler] = []


def on_account_ready(handler: ReadyHandler) -> ReadyHandler:
    """Call `handler` when a business's connected account can take charges and payouts."""
    if handler not in ACCOUNT_READY:
        ACCOUNT_READY.append(handler)
    return handler


def on_card_saved(handler: ReadyHandler) -> ReadyHandler:
    """Call `handler` when a business saves a new card."""
    if handler not in CARD_SAVED:
        CARD_SAVED.append(handler)
    return handler


def account_ready(session: Session, business_id: int) -> None:
    for handler in ACCOUNT_READY:
        handler(session, business_id)


def card_saved(session: Session, business_id: int) -> None:
    for handler in CARD_SAVED:
        handler(session, business_id)
