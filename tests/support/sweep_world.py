"""A full world for the route sweeps, built once per test.

Four businesses near Austin:

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
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask import Flask
from sqlmodel import Session, select

from referral.auth.apikeys.services import create_api_key, revoke_api_key
from referral.auth.models import User
from referral.auth.services import request_password_reset, send_verification_email
from referral.auth.team import invite_member
from referral.businesses.actor import Actor
from referral.businesses.models import Business
from referral.campaigns.services import Segment, create_campaign
from referral.commissions.models import Commission
from referral.commissions.services import report_refund
from referral.consent import services as consent
from referral.consent.models import ConsentRecord
from referral.customers import marketing
from referral.customers.imports import plan_import, start_import, upload_import
from referral.customers.models import Customer, CustomerJob
from referral.customers.services import create_customer, erase_customer
from referral.db import utcnow
from referral.events.models import EVENT_TYPES, WebhookEndpoint, WebhookEvent
from referral.integrations.services import new_secret
from referral.leads import disputes, offers, purchases
from referral.leads.models import LeadPurchase, SellerSuspension
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

TODAY = dt.date(2026, 11, 20)


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


def _tenant(db: Session, name: str, trade: str, zip_code: str, email: str) -> Tenant:
    business = make_business(db, name=name, trade=trade, zip_code=zip_code)
    owner = make_user(db, business, email=email, name=f"{name} Owner")
    return Tenant(business, owner, actor(owner, business))


def _partner_up(db: Session, proposer: Tenant, partner: Tenant) -> Partnership:
    """Active, 10% each way, no hold: a won referral's commission is approved at once."""
    return partner_up(db, proposer.actor, partner.actor, a_pays=percent(1000), b_pays=percent(1000))


def _ready_to_sell(db: Session, tenant: Tenant) -> None:
    db.add(
        ConnectedAccount(
            business_id=tenant.business_id,
            stripe_account_id=f"acct_sweep_{tenant.business_id}",
            details_submitted=True,
            charges_enabled=True,
            payouts_enabled=True,
        )
    )


class _Builder:
    """Writes B's world through the services, as the app would, and records
    each object and private string on the way."""

    def __init__(self, app: Flask, db: Session, world: World) -> None:
        self.app, self.db, self.world = app, db, world
        self._n = 0

    def customer(self, owner: Tenant, label: str) -> Customer:
        """A customer whose every personal field is a secret of B's world."""
        self._n += 1
        name = f"Wren Halloway-{label}"
        email = f"wren.{label}@private-customer.example"
        phone = f"+1512555{7000 + self._n}"
        customer = create_customer(
            session=self.db,
            business_id=owner.business_id,
            data={
                "name": name,
                "email": email,
                "phone": phone,
                "address": f"{100 + self._n} Hidden Lane {label}",
                "zip_code": "78704",
                "notes": f"Private note about {label}",
            },
        )
        self.db.flush()
        self.world.secrets += [name, email, phone, f"Hidden Lane {label}", f"note about {label}"]
        return customer

    def refer(
        self, sender: Tenant, receiver: Tenant, label: str, *, ask_by_email: bool = False
    ) -> Referral:
        customer = self.customer(sender, label)
        need = f"Secret need {label}"
        self.world.secrets.append(need)
        referral = referrals.send_referral(
            session=self.db,
            actor=sender.actor,
            data=NewReferral(
                partner_id=receiver.business_id,
                customer_id=customer.id,  # type: ignore[arg-type]
                need=need,
                urgency="this_week",
                consent_method="email_link" if ask_by_email else "attested_phone",
                attested_on=None if ask_by_email else dt.date.today(),
            ),
        )
        self.db.flush()
        return referral


def build_world(app: Flask, db: Session) -> World:
    with app.app_context():
        world = _build(app, db)
    world.a_browser = sign_in(app, world.a.owner)
    world.b_browser = sign_in(app, world.b.owner)
    return world


def _build(app: Flask, db: Session) -> World:
    a = _tenant(db, "Alpha Air", "hvac", "78701", "owner@alpha-air.example")
    b = _tenant(db, "Bravo Plumbing", "plumbing", "78704", "owner@bravo-private.example")
    c = _tenant(db, "Charlie Electric", "electrical", "78702", "owner@charlie.example")
    d = _tenant(db, "Delta Roofing", "roofing", "78703", "owner@delta.example")
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
    hook = WebhookEndpoint(
        business_id=b.business_id,
        url="https://hooks.bravo-private.example/in",
        description="Bravo private hook",
        event_types=list(EVENT_TYPES),
        secret=new_secret(),
    )
    db.add(hook)
    db.flush()
    world.secrets += ["hooks.bravo-private", "Bravo private hook", hook.secret]
    world.add("endpoint_id", "B's webhook endpoint", hook.id)
    build = _Builder(app, db, world)

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
    awaiting = build.refer(b, c, "awaiting", ask_by_email=True)
    world.links["consent"] = _token_in_link(
        last_email(db, to="wren.awaiting@private-customer.example").path("/consent/")
    )
    sent = build.refer(b, c, "sent")
    accepted = build.refer(b, c, "accepted")
    referrals.accept_referral(session=db, actor=c.actor, referral_id=accepted.id)
    won = build.refer(b, c, "won")
    referrals.accept_referral(session=db, actor=c.actor, referral_id=won.id)
    referrals.report_won(
        session=db, actor=c.actor, referral_id=won.id, job_value_cents=400_000, job_date=TODAY
    )
    lost = build.refer(b, c, "lost")
    referrals.accept_referral(session=db, actor=c.actor, referral_id=lost.id)
    referrals.report_lost(session=db, actor=c.actor, referral_id=lost.id, reason="Secret lost why")
    declined = build.refer(b, c, "declined")
    referrals.decline_referral(
        session=db, actor=c.actor, referral_id=declined.id, reason="Secret decline why"
    )
    withdrawn = build.refer(b, c, "withdrawn")
    referrals.withdraw_referral(session=db, actor=b.actor, referral_id=withdrawn.id)
    revoked = build.refer(b, c, "revoked")
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
    received = build.refer(c, b, "received")
    referrals.accept_referral(session=db, actor=b.actor, referral_id=received.id)
    received_won = build.refer(c, b, "received-won")
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
    erased = build.customer(b, "erased")
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

    # Imports: one being mapped, one done (their customers' names are B's secrets).
    for what, row, run in (
        ("B's import being mapped", "Secret Mapped,secret-mapped@example.com", False),
        ("B's finished import", "Secret Imported,secret-imported@example.com", True),
    ):
        record = upload_import(
            session=db,
            business_id=b.business_id,
            user_id=None,
            filename="secret-list.csv",
            content=f"name,email\n{row}\n".encode(),
        )
        if run:
            plan_import(session=db, record=record)
            start_import(session=db, record=record, in_background=False)
        world.secrets.append(row.split(",")[0])
        world.add("import_id", what, record.id)

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
    _ready_to_sell(db, b)
    _ready_to_sell(db, c)
    db.flush()
    b_lead = _offer_lead(db, build, b, "electrical", "lead-sold")
    asking = _offer_lead(db, build, b, "electrical", "lead-asking", ask_by_email=True)
    c_lead = _offer_lead(db, build, c, "plumbing", "lead-bought")
    c_purchase = _buy(db, c, b_lead.id)  # type: ignore[arg-type]
    b_purchase = _buy(db, b, c_lead.id)  # type: ignore[arg-type]
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

    db.commit()
    event = db.exec(select(WebhookEvent).where(WebhookEvent.business_id == b.business_id)).first()
    assert event is not None, "B's world wrote no webhook event"
    world.add("webhook_event_id", "B's webhook event", event.id)  # type: ignore[arg-type]
    return world


def _offer_lead(
    db: Session, build: _Builder, seller: Tenant, trade: str, label: str, *, ask_by_email=False
):  # type: ignore[no-untyped-def]
    customer = build.customer(seller, label)
    need = f"Secret need {label}"
    build.world.secrets.append(need)
    lead = offers.offer_lead(
        session=db,
        actor=seller.actor,
        data=offers.NewLead(
            customer_id=customer.id,  # type: ignore[arg-type]
            trade_id=trade_id(db, trade),
            need=need,
            urgency="this_week",
            zip_code="78704",
            price_cents=5_000,
            max_buyers=1,
            expires_in_days=7,
            consent_method="email_link" if ask_by_email else "attested_phone",
            attested_on=None if ask_by_email else dt.date.today(),
        ),
    )
    db.flush()
    return lead


def _buy(db: Session, buyer: Tenant, lead_id: int) -> LeadPurchase:
    """Reserve a place on Checkout, then apply Stripe's payment as its webhook would."""
    purchase = purchases.reserve(session=db, actor=buyer.actor, lead_id=lead_id, method="checkout")
    db.flush()
    outcome = purchases.apply_payment(
        db,
        PaymentState(
            payment_intent_id=f"pi_sweep_{purchase.id}",
            status="succeeded",
            amount_cents=purchase.price_cents,
            currency=purchase.currency,
            charge_id=f"ch_sweep_{purchase.id}",
            metadata={"lead_purchase_id": str(purchase.id)},
        ),
    )
    assert outcome == "applied: paid", outcome
    return purchase


def _token_in_link(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[1]
