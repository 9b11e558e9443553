"""Demo data: a dozen Austin, Texas businesses of different trades, their
owners, an operator, and partnerships in several states, so a newcomer can
click through the product at once. Loading twice changes nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import click
from flask.cli import with_appcontext
from sqlmodel import Session, select

from referral.auth.models import User
from referral.auth.passwords import hash_password
from referral.businesses.actor import Actor
from referral.businesses.services import create_business
from referral.campaigns import followups
from referral.campaigns import services as campaigns
from referral.customers import marketing
from referral.customers.models import Customer, PermissionSource
from referral.customers.services import add_job, create_customer
from referral.db import transaction, utcnow
from referral.localtime import local_date, zone
from referral.offers import services as offers
from referral.offers.models import Offer
from referral.partnerships import services as partnerships
from referral.partnerships.services import TermsPair
from referral.partnerships.terms import TermsOffer

DEMO_PASSWORD = "referral-demo-2026"
OPERATOR_EMAIL = "operator@referral.example"

# name, trade slug, ZIP code, radius in miles, description
BUSINESSES = [
    (
        "Lone Star Comfort Air",
        "hvac",
        "78701",
        30,
        "Heating and air conditioning: installs, tune-ups and 24/7 repairs.",
    ),
    (
        "Barton Creek Plumbing",
        "plumbing",
        "78704",
        25,
        "Leaks, water heaters, repipes and drain cleaning.",
    ),
    (
        "Capitol Spark Electric",
        "electrical",
        "78745",
        30,
        "Panels, EV chargers, lighting and rewiring.",
    ),
    (
        "Hill Country Carpet Care",
        "carpet-cleaning",
        "78731",
        20,
        "Steam cleaning, stain and pet odor removal.",
    ),
    (
        "Eastside Remodeling Co.",
        "remodeling",
        "78723",
        35,
        "Kitchens, bathrooms and whole-home remodels.",
    ),
    (
        "Violet Crown Landscapes",
        "landscaping",
        "78757",
        25,
        "Native plantings, irrigation and lawn care.",
    ),
    ("Pflugerville Roofing", "roofing", "78660", 40, "Roof repair and replacement, storm damage."),
    (
        "Zilker Pest Solutions",
        "pest-control",
        "78704",
        30,
        "Termites, ants, rodents: safe for families and pets.",
    ),
    ("Mueller Painting", "painting", "78723", 20, "Interior and exterior painting, cabinets."),
    (
        "Lakeway Pool Service",
        "pool-service",
        "78734",
        30,
        "Weekly pool care, repairs and equipment.",
    ),
    ("Round Rock Handyman", "handyman", "78664", 25, "Small repairs, installs and odd jobs."),
    ("Bee Cave House Cleaning", "house-cleaning", "78738", 25, "Weekly, move-out and deep cleans."),
]


def slug_of(name: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def owner_email(name: str) -> str:
    return f"owner@{slug_of(name)}.example"


@dataclass
class DemoSummary:
    created: bool
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # business, trade, email

    def describe(self) -> str:
        head = "Demo data loaded." if self.created else "Demo data already present."
        lines = [head, f"Log in with any of these emails and the password {DEMO_PASSWORD}:"]
        lines += [f"  {email:<45} {business} ({trade})" for business, trade, email in self.logins]
        lines.append(f"  {OPERATOR_EMAIL:<45} the operator (edits trades)")
        return "\n".join(lines)


def load_demo_data(session: Session) -> DemoSummary:
    """Create the demo businesses, users and partnerships unless they exist."""
    summary = DemoSummary(created=False)
    summary.logins = [(name, trade, owner_email(name)) for name, trade, *_ in BUSINESSES]
    if session.exec(select(User.id).where(User.email == OPERATOR_EMAIL)).first() is not None:
        return summary
    summary.created = True
    password_hash = hash_password(DEMO_PASSWORD)
    now = utcnow()
    actors: dict[str, Actor] = {}
    for name, trade, zip_code, radius, description in BUSINESSES:
        slug = slug_of(name)
        business = create_business(
            session=session,
            name=name,
            trade=trade,
            zip_code=zip_code,
            radius_miles=radius,
            description=description,
            phone=f"+1512555{100 + len(actors):04d}",  # 555-01XX: reserved for fiction
            website=f"https://{slug}.example",
        )
        owner = User(
            business_id=business.id,
            email=owner_email(name),
            name=f"{name.split()[0]} Owner",
            role="owner",
            password_hash=password_hash,
            email_verified_at=now,
            password_changed_at=now,
        )
        session.add(owner)
        session.flush()
        actors[trade] = Actor.of_user(owner, business)
    operator_business = actors["hvac"].business
    session.add(
        User(
            business_id=operator_business.id,
            email=OPERATOR_EMAIL,
            name="Olivia Operator",
            role="staff",
            password_hash=password_hash,
            email_verified_at=now,
            password_changed_at=now,
            is_operator=True,
        )
    )
    _demo_partnerships(session, actors)
    _demo_customers(session, actors["hvac"].business_id)
    _demo_offers(session, actors)
    _demo_campaign(session, actors["hvac"])
    _demo_follow_up(session, actors["hvac"])
    session.flush()
    return summary


def _demo_partnerships(session: Session, actors: dict[str, Actor]) -> None:
    ten_percent = TermsOffer(basis="percent", rate_bps=1000, hold_days=14, response_window_hours=48)
    flat_fee = TermsOffer(
        basis="flat_per_won", flat_fee_cents=15000, hold_days=7, response_window_hours=24
    )
    both_ten = TermsPair(they_refer_to_me=ten_percent, i_refer_to_them=ten_percent)
    # No hold period between the HVAC and plumbing demo partners, so a newcomer
    # sees a won job's commission approved, settled and paid in one sitting.
    no_hold = TermsOffer(basis="percent", rate_bps=1000, hold_days=0, response_window_hours=48)
    both_ten_no_hold = TermsPair(they_refer_to_me=no_hold, i_refer_to_them=no_hold)

    def agree(a: str, b: str, terms: TermsPair) -> None:
        partnership = partnerships.propose_partnership(
            session=session, actor=actors[a], partner_id=actors[b].business_id, terms=terms
        )
        assert partnership.id is not None
        partnerships.accept_proposal(
            session=session, actor=actors[b], partnership_id=partnership.id
        )

    agree("hvac", "plumbing", both_ten_no_hold)
    agree("hvac", "electrical", TermsPair(they_refer_to_me=flat_fee, i_refer_to_them=ten_percent))
    agree("remodeling", "carpet-cleaning", both_ten)
    # One proposal waiting for an answer, to show the flow.
    partnerships.propose_partnership(
        session=session,
        actor=actors["landscaping"],
        partner_id=actors["hvac"].business_id,
        terms=both_ten,
        message="Our customers ask us about AC every summer. Partners?",
    )


LONE_STAR_ADDRESS = "2400 E Cesar Chavez St, Austin, TX 78702"


def _demo_campaign(session: Session, lone_star: Actor) -> None:
    """Lone Star's spring campaign to its customers who agreed to offers, with
    its service plan and its plumbing partner's drain offer: queued here, sent
    by the worker (the dev outbox shows each customer's email and personal links)."""
    lone_star.business.postal_address = LONE_STAR_ADDRESS
    customers = session.exec(
        select(Customer).where(Customer.business_id == lone_star.business_id)
    ).all()
    for customer in customers:
        if customer.name != "Priya Shah":  # she never said yes to offers
            marketing.grant_permission(
                session,
                customer=customer,
                source=PermissionSource.CUSTOMER_FORM,
                how="asked at the last job",
            )
    included = campaigns.offers_to_include(session, lone_star.business_id)
    spring = campaigns.create_campaign(
        session,
        actor=lone_star,
        name="Spring tune-up",
        subject="{first_name}, ready for summer?",
        body=(
            "Hello {first_name},\n\n"
            "Your last visit from us was on {last_job_date}. Before the heat comes, "
            "here are two offers for you: our service plan, and a drain cleaning from "
            "our plumbing partner.\n\nThe {business_name} team"
        ),
        segment=campaigns.Segment(),
        offer_ids=[offer.id or 0 for offer, _ in included],
    )
    campaigns.send_campaign(session, actor=lone_star, campaign_id=spring.id or 0)


def _demo_offers(session: Session, actors: dict[str, Actor]) -> None:
    """The plumber's offer to its partners' customers, and Lone Star's own
    back-end offer to its customers: sale #2."""
    today = utcnow().date()
    for trade, kind, title, benefit, description in (
        (
            "plumbing",
            "partner",
            "Drain cleaning for our partners' customers",
            "10% off a first drain cleaning",
            "A camera inspection and a full clean of one main line, by a licensed plumber.",
        ),
        (
            "hvac",
            "own",
            "Comfort Club service plan",
            "$40 off the first year",
            "Two tune-ups a year, priority repairs and 15% off parts.",
        ),
    ):
        offers.create_offer(
            session=session,
            actor=actors[trade],
            data=offers.OfferInput(
                kind=kind,
                title=title,
                benefit=benefit,
                description=description,
                valid_from=today - dt.timedelta(days=30),
                valid_until=today + dt.timedelta(days=90),
            ),
        )


FOLLOW_UP_DAYS = 182


def _demo_follow_up(session: Session, lone_star: Actor) -> None:
    """Lone Star follows up each AC job after six months with its service plan,
    and James Carter's repair of a day more than six months ago (counted from
    the day the demo loads, in Lone Star's time zone) is due: whatever the hour,
    it lies inside the rule's lookback, so the worker sends its follow-up as
    soon as the demo starts and the rule's page counts it sent."""
    plan = session.exec(
        select(Offer.id).where(Offer.business_id == lone_star.business_id, Offer.kind == "own")
    ).all()
    followups.create_rule(
        session,
        actor=lone_star,
        name="Six months after an AC job",
        days_after=FOLLOW_UP_DAYS,
        subject="{first_name}, time for your AC check-up",
        body=(
            "Hello {first_name},\n\nIt has been six months since our visit on "
            "{last_job_date}. Our Comfort Club keeps your system running: two tune-ups a "
            "year and priority repairs.\n\n{business_name}"
        ),
        offer_ids=[offer_id for offer_id in plan if offer_id is not None],
    )
    james = session.exec(
        select(Customer).where(
            Customer.business_id == lone_star.business_id, Customer.name == "James Carter"
        )
    ).one()
    today = local_date(utcnow(), zone(lone_star.business.zone_name))
    add_job(
        session=session,
        customer=james,
        data={
            "job_date": today - dt.timedelta(days=FOLLOW_UP_DAYS + 1),
            "description": "AC repair: refrigerant leak",
            "amount_cents": 41500,
        },
    )


# Customers of Lone Star Comfort Air with their jobs (sale #1, #2...), to refer.
CUSTOMERS = [
    (
        "Maria Gonzalez",
        "maria.gonzalez@example.com",
        "+15125550142",
        "1204 Oltorf St",
        "78704",
        [("2025-06-12", "AC repair: capacitor", 28500), ("2026-04-03", "Spring tune-up", 12900)],
    ),
    (
        "James Carter",
        "james.carter@example.com",
        "+15125550187",
        "88 Rainey St",
        "78701",
        [("2025-08-30", "New 3-ton heat pump", 845000)],
    ),
    ("Priya Shah", "priya.shah@example.com", "+15125550119", "4500 Duval St", "78751", []),
]


def _demo_customers(session: Session, business_id: int) -> None:
    for name, email, phone, address, zip_code, jobs in CUSTOMERS:
        customer = create_customer(
            session=session,
            business_id=business_id,
            data={
                "name": name,
                "email": email,
                "phone": phone,
                "address": address,
                "zip_code": zip_code,
            },
        )
        for day, description, cents in jobs:
            add_job(
                session=session,
                customer=customer,
                data={
                    "job_date": dt.date.fromisoformat(day),
                    "description": description,
                    "amount_cents": cents,
                },
            )


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load the demo businesses and users (once)."""
    with transaction() as session:
        summary = load_demo_data(session)
    click.echo(summary.describe())


commands: list[click.Command] = [demo_command]
