"""The worlds the route sweeps and the hardening tests walk, written by one
builder (`WorldBuilder`) through the services, as the app would.

Two scenes are built with it:

- `build_world(app, db)`, the sweeps' (tenant isolation, anonymous, markup,
  headers, the browser walks): four businesses near Austin, B's objects probed
  by A.

  - A, Alpha Air (HVAC), who probes: signed in as its owner and holding an API
    key. It has one active partner, C, so a form that takes a partner and a
    customer can be probed with B's customer alone.
  - B, Bravo Plumbing, whose objects are probed: a partner (C) and a proposal
    (to D), customers, referrals in each interesting state both ways, a
    customer job, commissions, a settlement, leads sold and bought, disputes,
    notifications, consent requests and records, API keys, a staff member, an
    invitation, a seller suspension and a Stripe event.
  - C, Charlie Electric, and D, Delta Roofing: B's partner and B's prospect.

  Every private string of B's world (names, emails, phones and needs of the
  customers B holds or received, notes, its staff, its keys' names) is in
  `World.secrets`: none may appear in anything A is shown. B's name, trade and
  area are not among them: they are its public profile, which A may see.

  B's leads need a trade that is not A's, or A would legitimately see them as
  a buyer (an anonymised preview): B's lead is for an electrician, C's for a
  plumber.

- `build_own_world(db, standin=..., text=...)`, the hardening tests' (API
  fuzzing, escaping): a realistic world seen from one business, for tests that
  must reach the app's logic rather than its 404s: partners in every
  partnership state, customers with jobs, referrals both ways in every state,
  commissions, a settlement, leads to buy and sell, a paid lead purchase and an
  API key. Every free-text field is filled by `text(field)`, so the escaping
  tests can fill the same world with hostile strings.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask
from sqlmodel import Session, select

from referral.auth.apikeys.services import create_api_key, revoke_api_key
from referral.auth.models import User
from referral.auth.services import request_password_reset, send_verification_email
from referral.auth.team import invite_member
from referral.businesses.actor import Actor
from referral.businesses.models import Business
from referral.campaigns.followups import create_rule
from referral.campaigns.services import Segment, create_campaign
from referral.commissions.models import Commission
from referral.commissions.services import report_refund
from referral.consent import services as consent
from referral.consent.models import ConsentRecord
from referral.customers import marketing
from referral.customers.imports import plan_import, start_import, upload_import
from referral.customers.models import Customer, CustomerJob
from referral.customers.services import add_job, create_customer, erase_customer
from referral.db import utcnow
from referral.events.models import EVENT_TYPES, WebhookEndpoint, WebhookEvent
from referral.integrations.services import new_secret
from referral.leads import disputes, offers, purchases
from referral.leads.models import Lead, LeadPurchase, SellerSuspension
from referral.offers import services as offers_services
from referral.offers.landing import say_yes
from referral.offers.links import Source, offer_links
from referral.offers.models import Opportunity, SourceKind
from referral.partnerships import services as partnerships
from referral.partnerships.models import Partnership
from referral.partnerships.services import TermsPair
from referral.payments.gateway import PaymentState
from referral.payments.models import ConnectedAccount, StripeEvent
from referral.referrals import services as referrals
from referral.referrals.models import Referral
from referral.referrals.services import NewReferral
from referral.settlements.services import build_settlement
from tests.support.factories import (
    actor,
    make_business,
    make_user,
    partner_up,
    percent,
    sign_in,
    trade_id,
)
from tests.support.mail import last_email
from tests.support.payments import connect_onboarded_account, save_card
from tests.support.stripe_standin import StripeStandIn

TODAY = dt.date(2026, 11, 20)
ATTESTED_ON = dt.date.today() - dt.timedelta(days=30)  # within the last year
_serial = itertools.count(1)
TextFor = Callable[[str], str]


def plain_text(field_name: str) -> str:
    """Ordinary words, naming the field they fill."""
    return f"Some {field_name.replace('_', ' ')} text"


class WorldBuilder:
    """The one set of helpers both worlds are written with: businesses,
    customers, referrals, wins, leads offered and bought, imports and webhook
    endpoints, through the services. Free text comes from `text(field)`
    unless given; every private string written is kept in `secrets`."""

    def __init__(self, db: Session, *, text: TextFor = plain_text) -> None:
        self.db, self.text = db, text
        self.secrets: list[str] = []

    def keep(self, *secrets: str) -> None:
        """Private strings of the world (an empty one is no secret)."""
        self.secrets += [secret for secret in secrets if secret]

    def business(self, name: str, trade: str, zip_code: str, email: str) -> Actor:
        """A business and its owner (named after it), acting as the owner."""
        company = make_business(self.db, name=name, trade=trade, zip_code=zip_code)
        owner = make_user(self.db, company, email=email, name=f"{name} Owner")
        return actor(owner, company)

    def customer(self, owner: Actor, *, job: bool = True, **given: str) -> Customer:
        """A customer of `owner`, its fields as given or from `text`, with a
        job on record unless told otherwise."""
        n = next(_serial)
        data = {
            "name": self.text("customer_name"),
            "email": f"customer{n}.of{owner.business_id}@example.com",
            "phone": f"+1512555{n:04d}",
            "address": self.text("customer_address"),
            "zip_code": "78704",
            "notes": self.text("customer_notes"),
        } | given
        customer = create_customer(session=self.db, business_id=owner.business_id, data=data)
        self.keep(data["name"], data["email"], data["phone"], data["address"], data["notes"])
        if job:
            add_job(
                session=self.db,
                customer=customer,
                data={
                    "job_date": dt.date(2025, 6, 1 + n % 28),
                    "description": self.text("job_description"),
                    "amount_cents": 12_900 * (1 + n % 5),
                },
            )
        self.db.flush()
        return customer

    def refer(
        self,
        sender: Actor,
        receiver: Actor,
        customer_id: int | None,
        *,
        need: str | None = None,
        consent: str = "attested_phone",
        preferred_contact_time: str | None = None,
    ) -> Referral:
        """A referral of the customer (a new one of the sender's unless given),
        its consent attested by phone unless `consent` says otherwise."""
        if customer_id is None:
            customer_id = self.customer(sender).id
        assert customer_id is not None
        need = need if need is not None else self.text("referral_need")
        self.keep(need)
        referral = referrals.send_referral(
            session=self.db,
            actor=sender,
            data=NewReferral(
                partner_id=receiver.business_id,
                customer_id=customer_id,
                need=need,
                urgency="this_week",
                preferred_contact_time=(
                    preferred_contact_time
                    if preferred_contact_time is not None
                    else self.text("preferred_contact_time")
                ),
                consent_method=consent,
                attested_on=ATTESTED_ON if consent != "email_link" else None,
            ),
        )
        self.db.flush()
        return referral

    def accept_and_win(
        self, receiver: Actor, referral: Referral, cents: int, *, on: dt.date = TODAY
    ) -> None:
        referrals.accept_referral(session=self.db, actor=receiver, referral_id=referral.id)
        referrals.report_won(
            session=self.db,
            actor=receiver,
            referral_id=referral.id,
            job_value_cents=cents,
            job_date=on,
        )

    def offer_lead(
        self,
        seller: Actor,
        trade: int,
        *,
        customer_id: int | None = None,
        need: str | None = None,
        price_cents: int = 5_000,
        max_buyers: int = 1,
        consent: str = "attested_phone",
    ) -> Lead:
        """A lead of `trade` at 78704 (for a new customer of the seller's
        unless one is given), live at once unless the customer is asked by email."""
        if customer_id is None:
            customer_id = self.customer(seller).id
        assert customer_id is not None
        need = need if need is not None else self.text("lead_need")
        self.keep(need)
        lead = offers.offer_lead(
            session=self.db,
            actor=seller,
            data=offers.NewLead(
                customer_id=customer_id,
                trade_id=trade,
                need=need,
                urgency="this_week",
                zip_code="78704",
                price_cents=price_cents,
                max_buyers=max_buyers,
                expires_in_days=7,
                consent_method=consent,
                attested_on=ATTESTED_ON if consent != "email_link" else None,
            ),
        )
        self.db.flush()
        return lead

    def buy(self, buyer: Actor, lead_id: int | None, *, method: str = "checkout") -> LeadPurchase:
        """Reserve a place, then apply Stripe's payment as its webhook would."""
        assert lead_id is not None
        purchase = purchases.reserve(session=self.db, actor=buyer, lead_id=lead_id, method=method)
        self.db.flush()
        outcome = purchases.apply_payment(
            self.db,
            PaymentState(
                payment_intent_id=f"pi_world_{purchase.id}",
                status="succeeded",
                amount_cents=purchase.price_cents,
                currency=purchase.currency,
                charge_id=f"ch_world_{purchase.id}",
                metadata={"lead_purchase_id": str(purchase.id), "lead_id": str(lead_id)},
            ),
        )
        assert outcome == "applied: paid", outcome
        return purchase

    def imports(self, owner: Actor, rows: tuple[list[str], list[str]]) -> list[int]:
        """An import being mapped (of the first row) and one done (of the
        second): CSVs with a header `name,email,notes`."""
        ids = []
        for run, row in zip((False, True), rows, strict=True):
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(["name", "email", "notes"])
            writer.writerow(row)
            record = upload_import(
                session=self.db,
                business_id=owner.business_id,
                user_id=None,
                filename=f"customers-{run}.csv",
                content=buffer.getvalue().encode(),
            )
            if run:
                plan_import(session=self.db, record=record)
                start_import(session=self.db, record=record, in_background=False)
            self.keep(row[0], row[2])
            assert record.id is not None
            ids.append(record.id)
        return ids

    def webhook_endpoint(self, owner: Actor, url: str, description: str) -> WebhookEndpoint:
        """An endpoint taking every event, so the world writes some."""
        hook = WebhookEndpoint(
            business_id=owner.business_id,
            url=url,
            description=description,
            event_types=list(EVENT_TYPES),
            secret=new_secret(),
        )
        self.db.add(hook)
        self.db.flush()
        self.keep(url, description, hook.secret)
        return hook

    def ready_to_sell(self, seller: Actor) -> None:
        """An onboarded Connect account on record (no Stripe object)."""
        self.db.add(
            ConnectedAccount(
                business_id=seller.business_id,
                stripe_account_id=f"acct_sweep_{seller.business_id}",
                details_submitted=True,
                charges_enabled=True,
                payouts_enabled=True,
            )
        )
        self.db.flush()


# The sweeps' world: B's objects, probed by A.


@dataclass
class Tenant:
    business: Business
    owner: User
    actor: Actor

    @property
    def business_id(self) -> int:
        assert self.business.id is not None
        return self.business.id


@dataclass
class World:
    a: Tenant
    b: Tenant
    c: Tenant
    d: Tenant
    a_browser: object  # a FormClient signed in as A's owner
    a_key: str  # A's API key
    b_browser: object
    b_key: str
    b_revoked_key: str
    # URL variable name -> B's objects of that kind, as (what it is, id).
    objects: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    # B's private strings: none may reach A.
    secrets: list[str] = field(default_factory=list)
    # Values of the public routes' variables (emailed links), for the sweeps
    # that request public pages as their recipient would.
    links: dict[str, str] = field(default_factory=dict)

    def add(self, variable: str, what: str, object_id: int | None) -> None:
        assert object_id is not None
        self.objects.setdefault(variable, []).append((what, object_id))


def _tenant(build: WorldBuilder, name: str, trade: str, zip_code: str, email: str) -> Tenant:
    owner = build.business(name, trade, zip_code, email)
    user = build.db.get(User, owner.user_id)
    assert user is not None
    return Tenant(owner.business, user, owner)


def _partner_up(db: Session, proposer: Tenant, partner: Tenant) -> Partnership:
    """Active, 10% each way, no hold: a won referral's commission is approved at once."""
    return partner_up(db, proposer.actor, partner.actor, a_pays=percent(1000), b_pays=percent(1000))


def _customer(build: WorldBuilder, owner: Tenant, label: str) -> Customer:
    """A customer whose every personal field is a secret of B's world."""
    n = next(_serial)
    customer = build.customer(
        owner.actor,
        job=False,
        name=f"Wren Halloway-{label}",
        email=f"wren.{label}@private-customer.example",
        phone=f"+1512555{7000 + n % 1000}",
        address=f"{100 + n} Hidden Lane {label}",
        notes=f"Private note about {label}",
    )
    build.keep(f"Hidden Lane {label}", f"note about {label}")
    return customer


def _refer(
    build: WorldBuilder, sender: Tenant, receiver: Tenant, label: str, *, ask_by_email: bool = False
) -> Referral:
    return build.refer(
        sender.actor,
        receiver.actor,
        _customer(build, sender, label).id,
        need=f"Secret need {label}",
        consent="email_link" if ask_by_email else "attested_phone",
        preferred_contact_time="",
    )


def _offer_lead(
    build: WorldBuilder, seller: Tenant, trade: str, label: str, *, ask_by_email: bool = False
) -> Lead:
    return build.offer_lead(
        seller.actor,
        trade_id(build.db, trade),
        customer_id=_customer(build, seller, label).id,
        need=f"Secret need {label}",
        consent="email_link" if ask_by_email else "attested_phone",
    )


def build_world(app: Flask, db: Session) -> World:
    with app.app_context():
        world = _build(app, db)
    world.a_browser = sign_in(app, world.a.owner)
    world.b_browser = sign_in(app, world.b.owner)
    return world


def _build(app: Flask, db: Session) -> World:
    build = WorldBuilder(db)
    a = _tenant(build, "Alpha Air", "hvac", "78701", "owner@alpha-air.example")
    b = _tenant(build, "Bravo Plumbing", "plumbing", "78704", "owner@bravo-private.example")
    c = _tenant(build, "Charlie Electric", "electrical", "78702", "owner@charlie.example")
    d = _tenant(build, "Delta Roofing", "roofing", "78703", "owner@delta.example")
    a_key = create_api_key(session=db, actor=a.owner, name="Alpha integration").secret
    b_key = create_api_key(session=db, actor=b.owner, name="Bravo private key name")
    b_old = create_api_key(session=db, actor=b.owner, name="Bravo private old key")
    db.flush()
    revoke_api_key(session=db, business_id=b.business_id, key_id=b_old.api_key.id)  # type: ignore[arg-type]
    world = World(
        a=a,
        b=b,
        c=c,
        d=d,
        a_browser=None,
        a_key=a_key,
        b_browser=None,
        b_key=b_key.secret,
        b_revoked_key=b_old.secret,
    )
    world.secrets += ["owner@bravo-private.example", "Bravo private key name", "Bravo private old"]
    world.add("business_id", "B itself", b.business_id)
    world.add("key_id", "B's API key", b_key.api_key.id)
    world.add("key_id", "B's revoked API key", b_old.api_key.id)
    # B's webhook endpoint takes every event, so B's world writes some.
    hook = build.webhook_endpoint(
        b.actor, "https://hooks.bravo-private.example/in", "Bravo private hook"
    )
    build.keep("hooks.bravo-private")
    world.add("endpoint_id", "B's webhook endpoint", hook.id)

    # A's own partner, so forms taking a partner and a customer reach the customer.
    _partner_up(db, a, c)

    # B's team: its owner, a staff member and an invitation.
    staff = make_user(
        db,
        b.business,
        email="staff@bravo-private.example",
        name="Bea Staffmember",
        role="staff",
    )
    invitation = invite_member(
        session=db, actor=b.owner, email="invitee@bravo-private.example", role="manager"
    )
    db.flush()
    world.secrets += ["staff@bravo-private.example", "Bea Staffmember", "invitee@bravo-private"]
    world.add("user_id", "B's owner", b.owner.id)
    world.add("user_id", "B's staff member", staff.id)
    world.add("invitation_id", "B's invitation", invitation.id)
    world.links["invitation"] = _token_in_link(
        last_email(db, to="invitee@bravo-private.example").path("/invitations/")
    )
    request_password_reset(session=db, email=staff.email)
    world.links["reset"] = _token_in_link(last_email(db, to=staff.email).path("/password/reset/"))
    send_verification_email(session=db, user=staff)
    world.links["verify"] = _token_in_link(last_email(db, to=staff.email).path("/verify/"))

    # Partnerships: active with C, proposed to D.
    with_c = _partner_up(db, b, c)
    to_d = partnerships.propose_partnership(
        session=db,
        actor=b.actor,
        partner_id=d.business_id,
        terms=TermsPair(they_refer_to_me=percent(500), i_refer_to_them=percent(500)),
        message="Secret proposal message to Delta",
    )
    world.secrets.append("Secret proposal message to Delta")
    world.add("partnership_id", "B-C, active", with_c.id)
    world.add("partnership_id", "B to D, proposed", to_d.id)

    # Referrals B sent C, one per state.
    awaiting = _refer(build, b, c, "awaiting", ask_by_email=True)
    world.links["consent"] = _token_in_link(
        last_email(db, to="wren.awaiting@private-customer.example").path("/consent/")
    )
    sent = _refer(build, b, c, "sent")
    accepted = _refer(build, b, c, "accepted")
    referrals.accept_referral(session=db, actor=c.actor, referral_id=accepted.id)
    won = _refer(build, b, c, "won")
    referrals.accept_referral(session=db, actor=c.actor, referral_id=won.id)
    referrals.report_won(
        session=db, actor=c.actor, referral_id=won.id, job_value_cents=400_000, job_date=TODAY
    )
    lost = _refer(build, b, c, "lost")
    referrals.accept_referral(session=db, actor=c.actor, referral_id=lost.id)
    referrals.report_lost(session=db, actor=c.actor, referral_id=lost.id, reason="Secret lost why")
    declined = _refer(build, b, c, "declined")
    referrals.decline_referral(
        session=db, actor=c.actor, referral_id=declined.id, reason="Secret decline why"
    )
    withdrawn = _refer(build, b, c, "withdrawn")
    referrals.withdraw_referral(session=db, actor=b.actor, referral_id=withdrawn.id)
    revoked = _refer(build, b, c, "revoked")
    referrals.accept_referral(session=db, actor=c.actor, referral_id=revoked.id)
    record = db.exec(select(ConsentRecord).where(ConsentRecord.referral_id == revoked.id)).one()
    withdrawal = consent.withdrawal_link(record).rsplit("/", 1)[1]
    referrals.withdraw_consent_by_link(session=db, token=withdrawal)
    world.links["withdrawal"] = consent.withdrawal_link(
        db.exec(select(ConsentRecord).where(ConsentRecord.referral_id == accepted.id)).one()
    ).rsplit("/", 1)[1]
    world.links["my_consents"] = consent.my_consents_link(accepted.customer_id).rsplit("/", 1)[1]
    # B's marketing email: the unsubscribe link in it, and a double opt-in link.
    marketed = db.get(Customer, accepted.customer_id)
    assert marketed is not None
    world.links["unsubscribe"] = marketing.unsubscribe_token(marketed)
    world.links["opt_in"] = marketing.opt_in_token(marketed)
    world.secrets += ["Secret lost why", "Secret decline why"]
    # Referrals C sent B: B accepted one and won another (B owes C a commission).
    received = _refer(build, c, b, "received")
    referrals.accept_referral(session=db, actor=b.actor, referral_id=received.id)
    received_won = _refer(build, c, b, "received-won")
    referrals.accept_referral(session=db, actor=b.actor, referral_id=received_won.id)
    referrals.report_won(
        session=db,
        actor=b.actor,
        referral_id=received_won.id,
        job_value_cents=100_000,
        job_date=TODAY,
    )
    report_refund(
        session=db, business_id=b.business_id, referral_id=received_won.id, refund_cents=10_000
    )
    for what, referral in (
        ("B to C, awaiting consent", awaiting),
        ("B to C, sent", sent),
        ("B to C, accepted", accepted),
        ("B to C, won", won),
        ("B to C, lost", lost),
        ("B to C, declined", declined),
        ("B to C, withdrawn by B", withdrawn),
        ("B to C, consent withdrawn", revoked),
        ("C to B, accepted", received),
        ("C to B, won and partly refunded", received_won),
    ):
        world.add("referral_id", what, referral.id)

    # Customers: one with a job, one erased.
    db.add(
        CustomerJob(
            business_id=b.business_id,
            customer_id=sent.customer_id,
            job_date=TODAY,
            description="Secret job description",
            amount_cents=12_345,
        )
    )
    erased = _customer(build, b, "erased")
    erase_customer(session=db, business_id=b.business_id, customer_id=erased.id)  # type: ignore[arg-type]
    world.secrets.append("Secret job description")
    world.add("customer_id", "B's customer with a job", sent.customer_id)
    world.add("customer_id", "B's customer asked by email", awaiting.customer_id)
    world.add("customer_id", "B's erased customer", erased.id)
    draft = create_campaign(
        db,
        actor=b.actor,
        name="Secret campaign name",
        subject="Secret campaign subject",
        body="Hello {first_name}",
        segment=Segment(),
    )
    world.add("campaign_id", "B's draft campaign", draft.id)
    world.secrets.append("Secret campaign subject")
    follow_up = create_rule(
        db,
        actor=b.actor,
        name="Secret follow-up name",
        days_after=7,
        subject="Secret follow-up subject",
        body="Hello {first_name}",
    )
    world.add("rule_id", "B's follow-up rule", follow_up.id)
    world.secrets.append("Secret follow-up subject")

    # Offers: B's own offer, which a customer of B said yes to (an opportunity),
    # and an offer B publishes to its partners' customers, that one of C's took.
    own_offer = offers_services.create_offer(
        session=db,
        actor=b.actor,
        data=offers_services.OfferInput(
            kind="own",
            title="Secret service plan",
            benefit="Secret two tune-ups",
            valid_from=TODAY,
        ),
    )
    partner_offer = offers_services.create_offer(
        session=db,
        actor=b.actor,
        data=offers_services.OfferInput(
            kind="partner",
            title="Bravo drain offer",
            benefit="10% off a first drain cleaning",
            valid_from=TODAY,
            description="Secret offer description",
        ),
    )
    db.flush()
    own_link = offer_links(
        db,
        offers=[own_offer],
        customer=db.get(Customer, sent.customer_id),  # type: ignore[arg-type]
        source=Source(SourceKind.CAMPAIGN, 1),
    )[0].url.rsplit("/", 1)[1]
    say_yes(db, own_link)
    partner_link = offer_links(
        db,
        offers=[partner_offer],
        customer=_customer(build, c, "offer-taker"),
        source=Source(SourceKind.FOLLOW_UP, 2),
    )[0].url.rsplit("/", 1)[1]
    world.links["offer"] = partner_link
    opportunity = db.exec(select(Opportunity).where(Opportunity.offer_id == own_offer.id)).one()
    world.secrets += ["Secret service plan", "Secret two tune-ups", "Secret offer description"]
    world.add("offer_id", "B's own offer", own_offer.id)
    world.add("offer_id", "B's offer to its partners' customers", partner_offer.id)
    world.add("opportunity_id", "B's open opportunity", opportunity.id)

    # Imports: one being mapped, one done (their customers' names are B's secrets).
    mapped, done = build.imports(
        b.actor,
        (
            ["Secret Mapped", "secret-mapped@example.com", ""],
            ["Secret Imported", "secret-imported@example.com", ""],
        ),
    )
    world.add("import_id", "B's import being mapped", mapped)
    world.add("import_id", "B's finished import", done)

    # Money: both commissions, netted into one settlement of the B-C partnership.
    commissions = db.exec(
        select(Commission).where(Commission.partnership_id == with_c.id).order_by(Commission.id)
    ).all()
    assert len(commissions) == 2, commissions
    for commission in commissions:
        world.add("commission_id", f"B-C commission paid by {commission.payer_id}", commission.id)
    settlement = build_settlement(db, with_c)
    assert settlement is not None
    world.add("settlement_id", "B-C settlement", settlement.id)

    # Leads: B sells one (bought and disputed by C) and asks another customer
    # first; B bought one from C and disputed it.
    build.ready_to_sell(b.actor)
    build.ready_to_sell(c.actor)
    b_lead = _offer_lead(build, b, "electrical", "lead-sold")
    asking = _offer_lead(build, b, "electrical", "lead-asking", ask_by_email=True)
    c_lead = _offer_lead(build, c, "plumbing", "lead-bought")
    c_purchase = build.buy(c.actor, b_lead.id)
    b_purchase = build.buy(b.actor, c_lead.id)
    c_dispute = disputes.open_dispute(
        session=db,
        actor=c.actor,
        purchase_id=c_purchase.id,  # type: ignore[arg-type]
        reason="wrong_contact",
        note="Secret dispute note by C",
    )
    b_dispute = disputes.open_dispute(
        session=db,
        actor=b.actor,
        purchase_id=b_purchase.id,  # type: ignore[arg-type]
        reason="dead_contact",
        note="Secret dispute note by B",
    )
    world.secrets += ["Secret dispute note by C", "Secret dispute note by B"]
    world.add("lead_id", "B's lead, sold to C", b_lead.id)
    world.add("lead_id", "B's lead, awaiting consent", asking.id)
    world.add("lead_id", "C's lead, bought by B", c_lead.id)
    world.add("purchase_id", "B's purchase of C's lead", b_purchase.id)
    world.add("purchase_id", "C's purchase of B's lead", c_purchase.id)
    world.add("dispute_id", "B's dispute of C's lead", b_dispute.id)
    world.add("dispute_id", "C's dispute of B's lead", c_dispute.id)

    # Operator objects concerning B: its suspension, a Stripe event, its trade.
    suspension = SellerSuspension(business_id=b.business_id, dispute_rate_bps=5000)
    event = StripeEvent(
        stripe_event_id="evt_sweep_bravo",
        type="account.updated",
        account=f"acct_sweep_{b.business_id}",
        object_id=f"acct_sweep_{b.business_id}",
        event_created=utcnow(),
        payload={"id": "evt_sweep_bravo", "data": {"object": {"email": "stripe@bravo-private"}}},
    )
    db.add_all([suspension, event])
    db.flush()
    world.secrets.append("stripe@bravo-private")
    world.add("suspension_id", "B's seller suspension", suspension.id)
    world.add("event_id", "a Stripe event about B", event.id)
    world.add("trade_id", "B's trade", trade_id(db, "plumbing"))

    world.secrets += build.secrets
    db.commit()
    event = db.exec(select(WebhookEvent).where(WebhookEvent.business_id == b.business_id)).first()
    assert event is not None, "B's world wrote no webhook event"
    world.add("webhook_event_id", "B's webhook event", event.id)  # type: ignore[arg-type]
    return world


def _token_in_link(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[1]


# The hardening tests' world: everything one business can see.


@dataclass
class OwnWorld:
    """The business the tests act as (`me`), its API key, and the ids of
    everything it can see, by the name path parameters give them."""

    me: Actor
    api_key: str
    ids: dict[str, list[int]] = field(default_factory=dict)

    def add(self, name: str, *ids: int | None) -> None:
        self.ids.setdefault(name, []).extend(i for i in ids if i is not None)


def build_own_world(db: Session, *, standin: StripeStandIn, text: TextFor = plain_text) -> OwnWorld:
    """Build the world and commit it. Needs an app context (services read the
    config) and the Stripe stand-in (the lead sellers' connected accounts and
    the buyers' saved cards are real objects there)."""
    build = WorldBuilder(db, text=text)
    me = build.business(text("business_name"), "hvac", "78701", "owner@me.example")
    plumber = build.business("Barton Creek Plumbing", "plumbing", "78704", "owner@plumb.example")
    electrician = build.business("Capitol Spark", "electrical", "78745", "owner@spark.example")
    gardener = build.business("Violet Crown", "landscaping", "78757", "owner@violet.example")
    remodeler = build.business("Eastside Remodel", "remodeling", "78723", "owner@east.example")
    painter = build.business("Mueller Painting", "painting", "78723", "owner@paint.example")
    pests = build.business("Zilker Pest", "pest-control", "78704", "owner@pest.example")
    world = OwnWorld(me=me, api_key="")
    world.add("business_id", *(a.business_id for a in (me, plumber, electrician, gardener)))
    world.add("business_id", painter.business_id, pests.business_id)
    hook = build.webhook_endpoint(me, "https://hooks.me.example/referral", "Field service sync")
    world.add("endpoint_id", hook.id)

    active = partner_up(db, me, plumber, a_pays=percent(1000), b_pays=percent(1000))
    offered, proposed = (
        partnerships.propose_partnership(
            session=db,
            actor=proposer,
            partner_id=partner.business_id,
            terms=TermsPair(
                they_refer_to_me=percent(1000), i_refer_to_them=percent(800, hold_days=7)
            ),
            message=text("partnership_message"),
        )
        for proposer, partner in ((electrician, me), (me, gardener))
    )
    paused = partner_up(db, me, remodeler, a_pays=percent(500), b_pays=percent(500))
    partnerships.pause_partnership(session=db, actor=me, partnership_id=paused.id)
    partnerships.block_business(session=db, actor=me, business_id=pests.business_id)
    world.add("partnership_id", active.id, offered.id, proposed.id, paused.id)
    world.add("partner_id", *(a.business_id for a in (plumber, remodeler, painter, electrician)))

    mine = [build.customer(me).id for _ in range(3)]
    theirs = [build.customer(plumber).id for _ in range(3)]
    never_referred = [build.customer(me).id for _ in range(2)]
    world.add("customer_id", *mine, *never_referred)
    world.add(
        "import_id",
        *build.imports(
            me,
            tuple(  # type: ignore[arg-type]
                [text("customer_name"), f"imported{run}@example.com", text("customer_notes")]
                for run in (False, True)
            ),
        ),
    )

    # Referrals I sent: waiting for the customer, sent, won; and received: sent,
    # accepted (mine to report), won by me (mine to correct or refund).
    won_on = dt.date(2026, 1, 20)
    waiting = build.refer(me, plumber, mine[0], consent="email_link")
    sent = build.refer(me, plumber, mine[1])
    won_by_them = build.refer(me, plumber, mine[2])
    build.accept_and_win(plumber, won_by_them, 125_000, on=won_on)
    to_me = build.refer(plumber, me, theirs[0])
    accepted = build.refer(plumber, me, theirs[1])
    referrals.accept_referral(session=db, actor=me, referral_id=accepted.id)
    won_by_me = build.refer(plumber, me, theirs[2])
    build.accept_and_win(me, won_by_me, 80_000, on=won_on)
    db.flush()
    settlement = build_settlement(db, active)
    assert settlement is not None
    # One more won job after the settlement, so a commission is still approved.
    later = build.refer(plumber, me, None)
    build.accept_and_win(me, later, 42_000, on=won_on)
    lost = build.refer(me, plumber, None)
    referrals.accept_referral(session=db, actor=plumber, referral_id=lost.id)
    referrals.report_lost(session=db, actor=plumber, referral_id=lost.id, reason=text("reason"))
    declined = build.refer(me, plumber, None)
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
    purchase = build.buy(me, bought.id, method="saved_card")
    on_sale = live_lead(db, plumber, me, text=text)
    selling = live_lead(db, me, plumber, customer_id=mine[0], text=text, max_buyers=3)
    world.add("lead_id", bought.id, on_sale.id, selling.id)
    world.add("purchase_id", purchase.id)

    # Offers: my own (a customer of mine said yes: an opportunity) and my
    # partner's, to my customers.
    for publisher, kind in ((me, "own"), (plumber, "partner")):
        offer = offers_services.create_offer(
            session=db,
            actor=publisher,
            data=offers_services.OfferInput(
                kind=kind,
                title=text("offer_title"),
                benefit=text("offer_benefit"),
                description=text("offer_description"),
                valid_from=dt.date.today(),
            ),
        )
        db.flush()
        if kind == "own":
            world.add("offer_id", offer.id)
            (link,) = offer_links(
                db,
                offers=[offer],
                customer=db.get(Customer, never_referred[0]),  # type: ignore[arg-type]
                source=Source(SourceKind.FOLLOW_UP, 1),
            )
            say_yes(db, link.url.rsplit("/", 1)[1])
    world.add("opportunity_id", *db.exec(select(Opportunity.id)))

    owner = db.get(User, me.user_id)
    assert owner is not None
    world.api_key = create_api_key(session=db, actor=owner, name=text("api_key_name")).secret
    world.add("webhook_event_id", *db.exec(select(WebhookEvent.id).order_by(WebhookEvent.id)))
    # A draft campaign (its own escaping: tests/campaigns, a body with <script>).
    draft = create_campaign(
        db, actor=me, name="Spring", subject="Hi {first_name}", body="Hello", segment=Segment()
    )
    world.add("campaign_id", draft.id)
    follow_up = create_rule(
        db, actor=me, name="A week after", days_after=7, subject="Hi {first_name}", body="Hello"
    )
    world.add("rule_id", follow_up.id)
    db.commit()
    return world


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
    return WorldBuilder(db, text=text).offer_lead(
        seller,
        buyer.business.trade_id,
        customer_id=customer_id,
        price_cents=4_500,
        max_buyers=max_buyers,
    )
