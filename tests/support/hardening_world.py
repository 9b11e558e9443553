"""A realistic world seen from one business, for tests that must reach the
app's logic rather than its 404s: partners in every partnership state,
customers with jobs, referrals both ways in every state, commissions, a
settlement, leads to buy and sell, a paid lead purchase and an API key.

    world = build_world(db, standin=standin)   # inside an app context

Every free-text field is filled by `text(field)`, so the escaping tests can
fill the same world with hostile strings."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session, select

from referral.auth.apikeys.services import create_api_key
from referral.auth.models import User
from referral.businesses.actor import Actor
from referral.campaigns.services import Segment, create_campaign
from referral.commissions.models import Commission
from referral.customers.imports import plan_import, start_import, upload_import
from referral.customers.services import add_job, create_customer
from referral.events.models import EVENT_TYPES, WebhookEndpoint, WebhookEvent
from referral.integrations.services import new_secret
from referral.leads import offers, purchases
from referral.leads.models import Lead
from referral.partnerships import services as partnerships
from referral.partnerships.services import TermsPair
from referral.payments.gateway import PaymentState
from referral.referrals import services as referrals
from referral.referrals.models import Referral
from referral.referrals.services import NewReferral
from referral.settlements.services import build_settlement
from tests.support.factories import business, partner_up, percent
from tests.support.payments import connect_onboarded_account, save_card
from tests.support.stripe_standin import StripeStandIn

ATTESTED_ON = dt.date.today() - dt.timedelta(days=30)  # within the last year
_serial = itertools.count(1)
TextFor = Callable[[str], str]


def plain_text(field_name: str) -> str:
    """Ordinary words, naming the field they fill."""
    return f"Some {field_name.replace('_', ' ')} text"


@dataclass
class World:
    """The business the tests act as (`me`), its API key, and the ids of
    everything it can see, by the name path parameters give them."""

    me: Actor
    api_key: str
    ids: dict[str, list[int]] = field(default_factory=dict)

    def add(self, name: str, *ids: int | None) -> None:
        self.ids.setdefault(name, []).extend(i for i in ids if i is not None)


def build_world(db: Session, *, standin: StripeStandIn, text: TextFor = plain_text) -> World:
    """Build the world and commit it. Needs an app context (services read the
    config) and the Stripe stand-in (the lead sellers' connected accounts and
    the buyers' saved cards are real objects there)."""
    me = business(db, text("business_name"), "hvac", "78701", "owner@me.example")
    plumber = business(db, "Barton Creek Plumbing", "plumbing", "78704", "owner@plumb.example")
    electrician = business(db, "Capitol Spark", "electrical", "78745", "owner@spark.example")
    gardener = business(db, "Violet Crown", "landscaping", "78757", "owner@violet.example")
    remodeler = business(db, "Eastside Remodel", "remodeling", "78723", "owner@east.example")
    painter = business(db, "Mueller Painting", "painting", "78723", "owner@paint.example")
    pests = business(db, "Zilker Pest", "pest-control", "78704", "owner@pest.example")
    world = World(me=me, api_key="")
    world.add("business_id", *(a.business_id for a in (me, plumber, electrician, gardener)))
    world.add("business_id", painter.business_id, pests.business_id)
    # My webhook endpoint takes every event, so the world writes some.
    hook = WebhookEndpoint(
        business_id=me.business_id,
        url="https://hooks.me.example/referral",
        description="Field service sync",
        event_types=list(EVENT_TYPES),
        secret=new_secret(),
    )
    db.add(hook)
    db.flush()
    world.add("endpoint_id", hook.id)

    active = partner_up(db, me, plumber, a_pays=percent(1000), b_pays=percent(1000))
    offered, proposed = (
        partnerships.propose_partnership(
            session=db,
            actor=proposer,
            partner_id=partner.business_id,
            terms=_terms(),
            message=text("partnership_message"),
        )
        for proposer, partner in ((electrician, me), (me, gardener))
    )
    paused = partner_up(db, me, remodeler, a_pays=percent(500), b_pays=percent(500))
    partnerships.pause_partnership(session=db, actor=me, partnership_id=paused.id)
    partnerships.block_business(session=db, actor=me, business_id=pests.business_id)
    world.add("partnership_id", active.id, offered.id, proposed.id, paused.id)
    world.add("partner_id", *(a.business_id for a in (plumber, remodeler, painter, electrician)))

    mine = [_customer(db, me, text) for _ in range(3)]
    theirs = [_customer(db, plumber, text) for _ in range(3)]
    never_referred = [_customer(db, me, text) for _ in range(2)]
    world.add("customer_id", *mine, *never_referred)
    world.add("import_id", *_imports(db, me, text))

    # Referrals I sent: waiting for the customer, sent, won; and received: sent,
    # accepted (mine to report), won by me (mine to correct or refund).
    waiting = _refer(db, me, plumber, mine[0], text, consent="email_link")
    sent = _refer(db, me, plumber, mine[1], text)
    won_by_them = _refer(db, me, plumber, mine[2], text)
    _accept_and_win(db, plumber, won_by_them, 125_000)
    to_me = _refer(db, plumber, me, theirs[0], text)
    accepted = _refer(db, plumber, me, theirs[1], text)
    referrals.accept_referral(session=db, actor=me, referral_id=accepted.id)
    won_by_me = _refer(db, plumber, me, theirs[2], text)
    _accept_and_win(db, me, won_by_me, 80_000)
    db.flush()
    settlement = build_settlement(db, active)
    assert settlement is not None
    # One more won job after the settlement, so a commission is still approved.
    later = _refer(db, plumber, me, _customer(db, plumber, text), text)
    _accept_and_win(db, me, later, 42_000)
    lost = _refer(db, me, plumber, _customer(db, me, text), text)
    referrals.accept_referral(session=db, actor=plumber, referral_id=lost.id)
    referrals.report_lost(session=db, actor=plumber, referral_id=lost.id, reason=text("reason"))
    declined = _refer(db, me, plumber, _customer(db, me, text), text)
    referrals.decline_referral(
        session=db, actor=plumber, referral_id=declined.id, reason=text("reason")
    )
    for referral in (waiting, sent, won_by_them, to_me, accepted, won_by_me, later, lost, declined):
        world.add("referral_id", referral.id)
    db.flush()
    world.add("commission_id", *db.exec(select(Commission.id).order_by(Commission.id)))
    world.add("settlement_id", settlement.id)

    for seller in (me, plumber):
        connect_onboarded_account(db, standin, seller.business_id)
    save_card(db, standin, me.business_id, "owner@me.example")
    bought = live_lead(db, plumber, me, text=text, max_buyers=2)
    purchase = purchases.reserve(session=db, actor=me, lead_id=bought.id, method="saved_card")
    purchases.apply_payment(
        db,
        PaymentState(
            payment_intent_id=f"pi_world_{purchase.id}",
            status="succeeded",
            amount_cents=purchase.price_cents,
            currency=purchase.currency,
            charge_id=f"ch_world_{purchase.id}",
            metadata={"lead_purchase_id": str(purchase.id), "lead_id": str(bought.id)},
        ),
    )
    on_sale = live_lead(db, plumber, me, text=text)
    selling = live_lead(db, me, plumber, customer_id=mine[0], text=text, max_buyers=3)
    world.add("lead_id", bought.id, on_sale.id, selling.id)
    world.add("purchase_id", purchase.id)

    owner = db.get(User, me.user_id)
    assert owner is not None
    world.api_key = create_api_key(session=db, actor=owner, name=text("api_key_name")).secret
    world.add("webhook_event_id", *db.exec(select(WebhookEvent.id).order_by(WebhookEvent.id)))
    # A draft campaign (its own escaping: tests/campaigns, a body with <script>).
    draft = create_campaign(
        db, actor=me, name="Spring", subject="Hi {first_name}", body="Hello", segment=Segment()
    )
    world.add("campaign_id", draft.id)
    db.commit()
    return world


def _terms() -> TermsPair:
    return TermsPair(they_refer_to_me=percent(1000), i_refer_to_them=percent(800, hold_days=7))


def _imports(db: Session, owner: Actor, text: TextFor) -> list[int]:
    """An import being mapped and one done, of a customer named by `text`."""
    ids = []
    for run in (False, True):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["name", "email", "notes"])
        writer.writerow(
            [text("customer_name"), f"imported{run}@example.com", text("customer_notes")]
        )
        record = upload_import(
            session=db,
            business_id=owner.business_id,
            user_id=None,
            filename=f"customers-{run}.csv",
            content=buffer.getvalue().encode(),
        )
        if run:
            plan_import(session=db, record=record)
            start_import(session=db, record=record, in_background=False)
        assert record.id is not None
        ids.append(record.id)
    return ids


def _customer(db: Session, owner: Actor, text: TextFor) -> int:
    n = next(_serial)
    customer = create_customer(
        session=db,
        business_id=owner.business_id,
        data={
            "name": text("customer_name"),
            "email": f"customer{n}.of{owner.business_id}@example.com",
            "phone": f"+1512555{n:04d}",
            "address": text("customer_address"),
            "zip_code": "78704",
            "notes": text("customer_notes"),
        },
    )
    add_job(
        session=db,
        customer=customer,
        data={
            "job_date": dt.date(2025, 6, 1 + n % 28),
            "description": text("job_description"),
            "amount_cents": 12_900 * (1 + n % 5),
        },
    )
    assert customer.id is not None
    return customer.id


def _refer(
    db: Session,
    sender: Actor,
    receiver: Actor,
    customer_id: int,
    text: TextFor,
    *,
    consent: str = "attested_phone",
) -> Referral:
    return referrals.send_referral(
        session=db,
        actor=sender,
        data=NewReferral(
            partner_id=receiver.business_id,
            customer_id=customer_id,
            need=text("referral_need"),
            urgency="this_week",
            preferred_contact_time=text("preferred_contact_time"),
            consent_method=consent,
            attested_on=ATTESTED_ON if consent != "email_link" else None,
        ),
    )


def _accept_and_win(db: Session, receiver: Actor, referral: Referral, cents: int) -> None:
    referrals.accept_referral(session=db, actor=receiver, referral_id=referral.id)
    referrals.report_won(
        session=db,
        actor=receiver,
        referral_id=referral.id,
        job_value_cents=cents,
        job_date=dt.date(2026, 1, 20),
    )


def live_lead(
    db: Session,
    seller: Actor,
    buyer: Actor,
    *,
    customer_id: int | None = None,
    text: TextFor = plain_text,
    max_buyers: int = 1,
) -> Lead:
    """A live lead of the buyer's trade near the buyer, with attested consent
    (for a new customer of the seller's unless one is given)."""
    if customer_id is None:
        customer_id = _customer(db, seller, text)
    return offers.offer_lead(
        session=db,
        actor=seller,
        data=offers.NewLead(
            customer_id=customer_id,
            trade_id=buyer.business.trade_id,
            need=text("lead_need"),
            urgency="this_week",
            zip_code="78704",
            price_cents=4_500,
            max_buyers=max_buyers,
            expires_in_days=7,
            consent_method="attested_phone",
            attested_on=ATTESTED_ON,
        ),
    )
