"""The soak's world: businesses in partnerships, their customers and owners'
credentials, written through the models and services; then each business
connects a Stripe account and saves a card through the app's own pages and
the stand-in's hosted pages, as an owner would, so the webhooks that make them
ready travel the real path.
"""

from __future__ import annotations

import os
import random
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from sqlalchemy import insert, text
from sqlmodel import select

from bench.seed import SetupFailed, issue_credentials, session_cookie
from bench.soak_client import Http, Response
from referral import create_app
from referral.auth.models import User
from referral.auth.passwords import hash_password
from referral.businesses.actor import Actor
from referral.businesses.geo import locate_zip
from referral.businesses.models import Business, Trade
from referral.config import Config
from referral.customers.models import Customer
from referral.db import make_engine, transaction, utcnow
from referral.partnerships.services import TermsPair, accept_proposal, propose_partnership
from referral.partnerships.terms import TermsOffer

# No two of these trades compete (referral.businesses.taxonomy.COMPETING), and
# a trade competes with itself: businesses of the same trade never partner.
TRADES = (
    "hvac", "plumbing", "electrical", "roofing", "carpet-cleaning", "landscaping",
    "pest-control", "painting", "pool-service", "moving", "locksmith", "chimney",
)  # fmt: skip
AUSTIN_ZIPS = ("78701", "78702", "78703", "78704", "78705", "78721", "78723", "78731")
TEST_CARD = "4242424242424242"  # the stand-in's card that always succeeds
CSRF_FIELD = re.compile(rb'name="csrf_token" value="([^"]+)"')


@dataclass
class Member:
    """A seeded business and how to act as its owner."""

    business_id: int
    name: str
    trade: str
    api_key: str
    cookie: str  # the session cookie's value; holds the CSRF token once a page set it
    csrf_token: str = ""

    def api(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@dataclass
class World:
    cookie_name: str
    members: dict[int, Member]
    partners: dict[int, list[int]]  # business -> its active partners
    customers: dict[int, list[int]]  # business -> its customers
    _pairs: dict[int, Iterator[tuple[int, int]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def page(self, member: Member) -> dict[str, str]:
        return {"Cookie": f"{self.cookie_name}={member.cookie}"}

    def next_referral(self, sender_id: int) -> tuple[int, int] | None:
        """(customer, partner) never used by this sender: a customer may go to
        the same partner once in 30 days. None when the sender has used them all."""
        with self._lock:
            pairs = self._pairs.setdefault(
                sender_id,
                (
                    (customer, partner)
                    for customer in self.customers[sender_id]
                    for partner in self.partners[sender_id]
                ),
            )
            return next(pairs, None)


def _offer(rng: random.Random) -> TermsOffer:
    """Terms with no hold period, so commissions settle within the run."""
    basis = rng.choice(("percent", "percent", "flat_per_won", "flat_per_accepted"))
    if basis == "percent":
        return TermsOffer(basis=basis, rate_bps=rng.choice((500, 1000, 1250)), hold_days=0)
    return TermsOffer(basis=basis, flat_fee_cents=rng.choice((2500, 5000, 7500)), hold_days=0)


def seed_world(
    env: dict[str, str], *, businesses: int, partners_each: int, customers_each: int, seed: int
) -> World:
    """`businesses` businesses round the trades and Austin ZIP codes (all within
    each other's 30 mile areas), each in active partnerships with about
    `partners_each` others of other trades, agreed through the partnership
    services, and `customers_each` customers with email and phone."""
    rng = random.Random(seed)
    app = create_app(Config({**os.environ, **env}))
    password_hash = hash_password(secrets.token_urlsafe(16))
    members: dict[int, Member] = {}
    owners: dict[int, User] = {}
    partners: dict[int, list[int]] = {}
    with app.app_context():
        with transaction() as session:
            trades = {t.slug: t for t in session.exec(select(Trade)).all()}
            for number in range(businesses):
                slug = TRADES[number % len(TRADES)]
                centre = locate_zip(AUSTIN_ZIPS[number % len(AUSTIN_ZIPS)])
                assert centre is not None
                business = Business(
                    name=f"Soak {trades[slug].name} {number + 1}",
                    trade_id=trades[slug].id,
                    zip_code=centre.zip_code,
                    latitude=centre.latitude,
                    longitude=centre.longitude,
                    radius_miles=30,
                    description=f"{trades[slug].name} across Austin since {1990 + number % 30}.",
                    phone=f"+1512555{number:04d}",
                    website=f"https://soak-{number + 1}.example.com",
                )
                session.add(business)
                session.flush()
                owner = User(
                    business_id=business.id,
                    email=f"owner-{number + 1}@soak.example.com",
                    name=f"Owner {number + 1}",
                    role="owner",
                    password_hash=password_hash,
                    email_verified_at=utcnow(),
                )
                session.add(owner)
                session.flush()
                api_key, login_token = issue_credentials(session, owner)
                assert business.id is not None
                members[business.id] = Member(
                    business.id, business.name, slug, api_key, session_cookie(app, login_token)
                )
                owners[business.id] = owner
                partners[business.id] = []
            ids = sorted(members)
            for position, business_id in enumerate(ids):
                # Neighbours on a ring, skipping the same trade: about partners_each each.
                for step in range(1, partners_each // 2 + 1):
                    other = ids[(position + step) % len(ids)]
                    if other == business_id or members[other].trade == members[business_id].trade:
                        continue
                    if other in partners[business_id]:
                        continue
                    me = owners[business_id]
                    partnership = propose_partnership(
                        session=session,
                        actor=Actor.of_user(me, session.get(Business, business_id)),
                        partner_id=other,
                        terms=TermsPair(they_refer_to_me=_offer(rng), i_refer_to_them=_offer(rng)),
                    )
                    accept_proposal(
                        session=session,
                        actor=Actor.of_user(owners[other], session.get(Business, other)),
                        partnership_id=partnership.id,
                    )
                    partners[business_id].append(other)
                    partners[other].append(business_id)
            now = utcnow()
            session.execute(
                insert(Customer),
                [
                    {
                        "business_id": business_id,
                        "name": f"Customer {number} of {business_id}",
                        "email": f"customer-{business_id}-{number}@soak.example.com",
                        "phone": f"+1737555{number % 10000:04d}",
                        "zip_code": AUSTIN_ZIPS[number % len(AUSTIN_ZIPS)],
                        "created_at": now,
                    }
                    for business_id in ids
                    for number in range(customers_each)
                ],
            )
            customers: dict[int, list[int]] = {business_id: [] for business_id in ids}
            for customer_id, business_id in session.execute(
                text("SELECT id, business_id FROM customer ORDER BY id")
            ):
                customers[business_id].append(customer_id)
        app.extensions["db_engine"].dispose()
    for business_id in customers:
        rng.shuffle(customers[business_id])
    return World(app.config["SESSION_COOKIE_NAME"], members, partners, customers)


# --------------------------------------------------------------------------- payments


def _session_from(response: Response, cookie_name: str) -> str | None:
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        if name.strip() == cookie_name:
            return rest.split(";", 1)[0]
    return None


def open_payments_page(http: Http, world: World, member: Member) -> None:
    """GET /payments: the page gives the form's CSRF token, and the session
    cookie that holds it, which the member keeps for every later form."""
    response = http.call("GET /payments", "GET", "/payments", headers=world.page(member))
    if response is None or response.status != 200:
        raise SetupFailed(f"{member.name}: GET /payments answered {response and response.status}")
    match = CSRF_FIELD.search(response.body)
    if match is None:
        raise SetupFailed(f"{member.name}: no CSRF token on /payments")
    member.csrf_token = match.group(1).decode()
    member.cookie = _session_from(response, world.cookie_name) or member.cookie


def post_form(
    http: Http, world: World, member: Member, label: str, path: str, fields: dict[str, str]
) -> Response | None:
    """A signed-in form post with the member's CSRF token; redirects are the answer."""
    return http.call(
        label,
        "POST",
        path,
        headers={**world.page(member), "Content-Type": "application/x-www-form-urlencoded"},
        body=urlencode({"csrf_token": member.csrf_token, **fields}).encode(),
        expect=(302, 303),
    )


def _hosted_page(http_for: dict[str, Http], location: str, fields: dict[str, str]) -> int:
    """Submit a stand-in hosted page (onboarding, Checkout) as the person would."""
    parts = urlsplit(location)
    standin = http_for.setdefault(parts.netloc, Http(f"{parts.scheme}://{parts.netloc}", None))
    response = standin.call(
        "stand-in page",
        "POST",
        parts.path,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urlencode(fields).encode(),
        expect=(303,),
    )
    return response.status if response is not None else 0


def connect_payments(http: Http, world: World, database_url: str, timeout: float) -> float:
    """Every business connects its Express account ("Connect with Stripe", then
    "Agree and submit" on the stand-in's onboarding page) and saves the card that
    succeeds on the stand-in's Checkout page; then waits until the webhooks made
    every account ready and saved every card. Returns the seconds it took."""
    started = time.monotonic()
    standin: dict[str, Http] = {}
    for member in world.members.values():
        open_payments_page(http, world, member)
        connect = post_form(http, world, member, "POST /payments/connect", "/payments/connect", {})
        card = post_form(http, world, member, "POST /payments/card", "/payments/card", {})
        for answer, fields in ((connect, {"action": "submit"}), (card, {"card": TEST_CARD})):
            location = answer.headers.get("Location", "") if answer is not None else ""
            if "/_standin/" not in location:
                raise SetupFailed(
                    f"{member.name}: expected a redirect to the stand-in, got "
                    f"{answer and answer.status} {location!r}"
                )
            if _hosted_page(standin, location, fields) != 303:
                raise SetupFailed(f"{member.name}: the stand-in page {location} failed")
    engine = make_engine(database_url)
    try:
        while True:
            with engine.connect() as connection:
                ready = connection.execute(
                    text(
                        "SELECT (SELECT count(*) FROM connected_account"
                        "        WHERE charges_enabled AND payouts_enabled),"
                        "       (SELECT count(*) FROM billing_profile"
                        "        WHERE payment_method_id IS NOT NULL)"
                    )
                ).one()
            if min(ready) >= len(world.members):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise SetupFailed(
                    f"after {timeout:.0f} s only {ready[0]} accounts ready and {ready[1]} cards "
                    f"saved of {len(world.members)}: are the job workers running?"
                )
            time.sleep(0.2)
    finally:
        engine.dispose()
