"""The visibility matrix: what a receiving business sees of a customer, on
every route it can call, in every state of a referral (and of a lead).

R (Rill Plumbing) receives from S (Sable Air) one referral in each state of
the lifecycle and buys S's leads in each state of a purchase. Each customer
has distinctive identifying values. R's owner, manager and staff (signed in)
and R's API key call every route of the URL map and every operation of the
OpenAPI spec they can (the sweeps' route walker, tests/support/routes.py),
filled with R's objects; a route with a variable this module cannot fill
fails it. No response body (CSV included), and no email or notification
queued to R, holds a customer's identifying values unless the rule allows
it: after consent AND acceptance (or payment), and never after refusal,
withdrawal, erasure, decline, expiry, withdrawal by the sender or refund.

The expectations are written out here (EXPECTED_VISIBLE), independently of
the rule in referral/consent/visibility.py: the last test opens the rule and
shows the matrix fails.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.auth.apikeys.services import create_api_key
from referral.auth.team import invite_member
from referral.businesses.actor import Actor
from referral.campaigns import followups
from referral.campaigns.services import Segment, create_campaign
from referral.commissions.models import Commission
from referral.consent import services as consent
from referral.consent import visibility
from referral.consent.models import ConsentRecord
from referral.customers.imports import upload_import
from referral.customers.models import Customer
from referral.customers.services import create_customer, erase_customer
from referral.events.models import EVENT_TYPES, WebhookEndpoint
from referral.integrations import services as integrations
from referral.integrations.services import new_secret
from referral.leads import disputes, offers, purchases
from referral.leads.models import Lead, LeadPurchase
from referral.notifications.models import Notification
from referral.offers import services as offer_services
from referral.offers.landing import say_yes
from referral.offers.links import Source, offer_links
from referral.offers.models import Opportunity, SourceKind
from referral.partnerships import services as partnerships
from referral.partnerships.services import TermsPair
from referral.payments.gateway import PaymentState
from referral.payments.models import ConnectedAccount
from referral.referrals import services as referrals
from referral.referrals.models import Referral
from referral.referrals.services import NewReferral
from referral.settlements.services import build_settlement
from tests.support.factories import make_business, make_user, percent, sign_in, trade_id
from tests.support.mail import last_email, queued_emails
from tests.support.routes import PUBLIC, Caller, Route, all_routes, api_operations, fillings

TODAY = dt.date.today()

# State -> may the receiver see the customer? Written from the promise, not the code.
EXPECTED_VISIBLE = {
    "awaiting consent": False,
    "consented": False,
    "refused by customer": False,
    "accepted": True,
    "declined by partner": False,
    "won": True,
    "lost": True,
    "withdrawn by customer": False,
    "won, then withdrawn by customer": False,
    "withdrawn by sender": False,
    "customer erased": False,
    "expired": False,
}
LEAD_EXPECTED_VISIBLE = {
    "previewed, not bought": False,
    "reserved, before payment": False,
    "paid": True,
    "refunded": False,
    "paid, then withdrawn by customer": False,
}


@dataclass
class Matrix:
    receiver_browsers: dict[str, Any]  # role -> signed-in client
    receiver_key: str
    receiver_emails: list[str]
    receiver_id: int
    # URL variable -> (what, id) of R's objects
    objects: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    # state -> its customer's identifying values
    secrets: dict[str, list[str]] = field(default_factory=dict)
    referral_ids: dict[str, int] = field(default_factory=dict)
    lead_ids: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    requests: int = 0

    def add(self, variable: str, what: str, object_id: int | None) -> None:
        assert object_id is not None
        self.objects.setdefault(variable, []).append((what, object_id))


class _Build:
    def __init__(self, db: Session, matrix: Matrix, sender: Actor, receiver: Actor) -> None:
        self.db, self.matrix, self.sender, self.receiver = db, matrix, sender, receiver
        self.n = 0

    def customer(self, state: str) -> Customer:
        """A customer of S whose identifying values appear nowhere else."""
        self.n += 1
        slug = state.replace(" ", "-").replace(",", "")
        phone_tail = f"{8100 + self.n}"
        customer = create_customer(
            session=self.db,
            business_id=self.sender.business_id,
            data={
                "name": f"Quillon Vantreska-{slug}",
                "email": f"q.{slug}@matrix-private.example",
                "phone": f"+1512555{phone_tail}",
                "address": f"{200 + self.n} Obscure Row {slug}",
                "zip_code": "78704",
                "notes": f"Matrix private note {slug}",
            },
        )
        self.db.flush()
        self.matrix.secrets[state] = [
            customer.name,
            customer.email,
            customer.phone,
            f"555-{phone_tail}",  # the phone as pages show it
            f"Obscure Row {slug}",
            f"Matrix private note {slug}",
        ]
        return customer

    def refer(self, state: str, *, by_email: bool = False) -> Referral:
        customer = self.customer(state)
        referral = referrals.send_referral(
            session=self.db,
            actor=self.sender,
            data=NewReferral(
                partner_id=self.receiver.business_id,
                customer_id=customer.id,  # type: ignore[arg-type]
                need=f"Fix the pipes ({state})",
                urgency="this_week",
                consent_method="email_link" if by_email else "attested_phone",
                attested_on=None if by_email else TODAY,
            ),
        )
        self.db.flush()
        self.matrix.referral_ids[state] = referral.id  # type: ignore[assignment]
        self.matrix.add("referral_id", state, referral.id)
        return referral

    def withdraw_by_customer(self, referral: Referral) -> None:
        record = consent.latest_record(self.db, referral.id)
        assert record is not None
        token = consent.withdrawal_link(record).rsplit("/", 1)[1]
        referrals.withdraw_consent_by_link(session=self.db, token=token)

    def lead(self, state: str) -> Lead:
        customer = self.customer(state)
        lead = offers.offer_lead(
            session=self.db,
            actor=self.sender,
            data=offers.NewLead(
                customer_id=customer.id,  # type: ignore[arg-type]
                trade_id=trade_id(self.db, "plumbing"),
                need=f"Unblock a drain ({state})",
                urgency="this_week",
                zip_code="78704",
                price_cents=5_000,
                max_buyers=1,
                expires_in_days=7,
                consent_method="attested_phone",
                attested_on=TODAY,
            ),
        )
        self.db.flush()
        self.matrix.lead_ids[state] = lead.id  # type: ignore[assignment]
        self.matrix.add("lead_id", state, lead.id)
        return lead

    def buy(self, state: str, *, pay: bool = True) -> LeadPurchase:
        lead = self.lead(state)
        purchase = purchases.reserve(
            session=self.db, actor=self.receiver, lead_id=lead.id, method="checkout"
        )
        self.db.flush()
        if pay:
            outcome = purchases.apply_payment(
                self.db,
                PaymentState(
                    payment_intent_id=f"pi_matrix_{purchase.id}",
                    status="succeeded",
                    amount_cents=purchase.price_cents,
                    currency=purchase.currency,
                    charge_id=f"ch_matrix_{purchase.id}",
                    metadata={"lead_purchase_id": str(purchase.id)},
                ),
            )
            assert outcome == "applied: paid", outcome
        self.matrix.add("purchase_id", state, purchase.id)
        return purchase


def build_matrix(app: Flask, db: Session) -> Matrix:
    s_business = make_business(db, name="Sable Air", trade="hvac", zip_code="78701")
    r_business = make_business(db, name="Rill Plumbing", trade="plumbing", zip_code="78704")
    s_owner = make_user(db, s_business, email="owner@sable.example", name="Sable Owner")
    r_users = {
        role: make_user(
            db, r_business, email=f"{role}@rill.example", name=f"Rill {role}", role=role
        )
        for role in ("owner", "manager", "staff")
    }
    sender, receiver = (
        Actor.of_user(s_owner, s_business),
        Actor.of_user(r_users["owner"], r_business),
    )
    with app.app_context():
        key = create_api_key(session=db, actor=r_users["owner"], name="Rill integration")
        matrix = Matrix(
            receiver_browsers={},
            receiver_key=key.secret,
            receiver_emails=[u.email for u in r_users.values()],
            receiver_id=r_business.id,  # type: ignore[arg-type]
        )
        partnership = partnerships.propose_partnership(
            session=db,
            actor=sender,
            partner_id=receiver.business_id,
            terms=TermsPair(they_refer_to_me=percent(1000), i_refer_to_them=percent(1000)),
        )
        partnerships.accept_proposal(session=db, actor=receiver, partnership_id=partnership.id)
        build = _Build(db, matrix, sender, receiver)
        accept = lambda r: referrals.accept_referral(  # noqa: E731
            session=db, actor=receiver, referral_id=r.id
        )

        build.refer("awaiting consent", by_email=True)
        build.refer("consented")
        refused = build.refer("refused by customer", by_email=True)
        link = last_email(db, to="q.refused-by-customer@matrix-private.example").path("/consent/")
        referrals.answer_consent(session=db, token=link.rsplit("/", 1)[1], yes=False)
        assert refused.status == "declined_by_customer"
        accept(build.refer("accepted"))
        referrals.decline_referral(
            session=db, actor=receiver, referral_id=build.refer("declined by partner").id
        )
        won = build.refer("won")
        accept(won)
        referrals.report_won(
            session=db, actor=receiver, referral_id=won.id, job_value_cents=90_000, job_date=TODAY
        )
        lost = build.refer("lost")
        accept(lost)
        referrals.report_lost(session=db, actor=receiver, referral_id=lost.id)
        withdrawn = build.refer("withdrawn by customer")
        accept(withdrawn)
        build.withdraw_by_customer(withdrawn)
        won_withdrawn = build.refer("won, then withdrawn by customer")
        accept(won_withdrawn)
        referrals.report_won(
            session=db,
            actor=receiver,
            referral_id=won_withdrawn.id,
            job_value_cents=50_000,
            job_date=TODAY,
        )
        build.withdraw_by_customer(won_withdrawn)
        taken_back = build.refer("withdrawn by sender")
        accept(taken_back)
        referrals.withdraw_referral(session=db, actor=sender, referral_id=taken_back.id)
        erased = build.refer("customer erased")
        accept(erased)
        erase_customer(session=db, business_id=sender.business_id, customer_id=erased.customer_id)
        referrals.expire_referral(session=db, referral=build.refer("expired"))

        # Leads S sells in R's trade, which R previews and buys.
        db.add(
            ConnectedAccount(
                business_id=sender.business_id,
                stripe_account_id="acct_matrix_sable",
                details_submitted=True,
                charges_enabled=True,
                payouts_enabled=True,
            )
        )
        db.flush()
        build.lead("previewed, not bought")
        build.buy("reserved, before payment", pay=False)
        build.buy("paid")
        refunded = build.buy("refunded")
        refunded.status = "refunded"  # as an upheld dispute leaves it (Stripe refunds it)
        build.buy("paid, then withdrawn by customer")
        record = consent.latest_record(
            db, lead_id=matrix.lead_ids["paid, then withdrawn by customer"]
        )
        assert record is not None and consent.withdraw(db, record)
        offers.consent_withdrawn(db, db.get(Lead, record.lead_id))  # type: ignore[arg-type]

        # R's other objects, so that every route's variables can be filled.
        matrix.add("partnership_id", "S-R partnership", partnership.id)
        matrix.add("business_id", "S, R's partner", sender.business_id)
        matrix.add("business_id", "R itself", receiver.business_id)
        own = create_customer(
            session=db, business_id=receiver.business_id, data={"name": "Rill's own customer"}
        )
        db.flush()
        matrix.add("customer_id", "R's own customer", own.id)
        for user in r_users.values():
            matrix.add("user_id", f"R's {user.role}", user.id)
        matrix.add("key_id", "R's API key", key.api_key.id)
        for commission in db.exec(
            select(Commission).where(Commission.partnership_id == partnership.id)
        ):
            matrix.add("commission_id", f"commission {commission.id}", commission.id)
        matrix.add("trade_id", "R's trade", trade_id(db, "plumbing"))
        settlement = build_settlement(db, partnership)
        assert settlement is not None
        matrix.add("settlement_id", "S-R settlement", settlement.id)
        invitation = invite_member(
            session=db, actor=r_users["owner"], email="new@rill.example", role="staff"
        )
        matrix.add("invitation_id", "R's invitation", invitation.id)
        paid = db.exec(
            select(LeadPurchase).where(LeadPurchase.lead_id == matrix.lead_ids["paid"])
        ).one()
        dispute = disputes.open_dispute(
            session=db, actor=receiver, purchase_id=paid.id, reason="dead_contact", note=""
        )
        matrix.add("dispute_id", "R's dispute of a paid lead", dispute.id)
        own_list = upload_import(
            session=db,
            business_id=receiver.business_id,
            user_id=None,
            filename="rill-own.csv",
            content=b"name,email\nRill's imported customer,imported@rill.example\n",
        )
        matrix.add("import_id", "R's own customer import", own_list.id)
        hook = WebhookEndpoint(
            business_id=receiver.business_id,
            url="https://hooks.rill.example/in",
            event_types=list(EVENT_TYPES),
            secret=new_secret(),
        )
        db.add(hook)
        db.flush()
        matrix.add("endpoint_id", "R's webhook endpoint", hook.id)
        test_event = integrations.send_test_event(
            session=db, business_id=receiver.business_id, endpoint_id=hook.id
        )
        matrix.add("webhook_event_id", "R's test webhook event", test_event.id)
        plan = offer_services.create_offer(
            session=db,
            actor=receiver,
            data=offer_services.OfferInput(
                kind="own", title="Rill plan", benefit="Yearly check", valid_from=dt.date.today()
            ),
        )
        db.flush()
        (link,) = offer_links(
            db, offers=[plan], customer=own, source=Source(SourceKind.CAMPAIGN, 1)
        )
        say_yes(db, link.url.rsplit("/", 1)[1])
        opportunity = db.exec(select(Opportunity).where(Opportunity.offer_id == plan.id)).one()
        matrix.add("offer_id", "R's own offer", plan.id)
        matrix.add("opportunity_id", "R's opportunity", opportunity.id)
        own_campaign = create_campaign(
            db, actor=receiver, name="R's campaign", subject="Hi", body="Hi", segment=Segment()
        )
        matrix.add("campaign_id", "R's own campaign", own_campaign.id)
        rule = followups.create_rule(
            db, actor=receiver, name="R's follow-up", days_after=30, subject="Hi", body="Hi"
        )
        matrix.add("rule_id", "R's follow-up rule", rule.id)
        db.commit()
    matrix.receiver_browsers = {role: sign_in(app, user) for role, user in r_users.items()}
    return matrix


# Routes whose variables take no object of R's: the customer's own links (the
# key is the token in them, tests/sweeps/test_anonymous.py) and the operator's
# pages (a 404 for every business: the tenant sweep calls them).
def _receiver_can_call(route: Route) -> bool:
    return route.endpoint not in PUBLIC and not route.is_operator


def _visible_now(db: Session, referral_id: int) -> bool:
    """The promise, restated from the database (not from the rule): accepted,
    won or lost, consent given and not withdrawn, customer not erased."""
    referral = db.get(Referral, referral_id)
    assert referral is not None
    customer = db.get(Customer, referral.customer_id)
    record = db.exec(
        select(ConsentRecord)
        .where(ConsentRecord.referral_id == referral_id)
        .order_by(ConsentRecord.id.desc())
    ).first()
    return (
        referral.status in ("accepted", "won", "lost")
        and record is not None
        and record.decision == "given"
        and not consent.is_withdrawn(db, record)
        and customer is not None
        and customer.erased_at is None
    )


class Walk:
    def __init__(self, app: Flask, db: Session, matrix: Matrix) -> None:
        self.app, self.db, self.matrix = app, db, matrix
        self.callers = [
            (role, Caller(browser, api_key=matrix.receiver_key))
            for role, browser in matrix.receiver_browsers.items()
        ]

    def hidden_secrets(self, *, referral_visible: dict[str, bool] | None = None) -> list[str]:
        visible = {**EXPECTED_VISIBLE, **(referral_visible or {}), **LEAD_EXPECTED_VISIBLE}
        return [
            s
            for state, secrets in self.matrix.secrets.items()
            if not visible[state]
            for s in secrets
        ]

    def check(self, where: str, response: Any, hidden: list[str]) -> None:
        self.matrix.requests += 1
        if response.status_code >= 500:
            self.matrix.failures.append(f"{where}: answered {response.status_code}")
        body = response.get_data(as_text=True) + " " + response.headers.get("Location", "")
        leaked = sorted({secret for secret in hidden if secret in body})
        if leaked:
            self.matrix.failures.append(f"{where}: showed {leaked}")

    def reads(self, routes: list[Route]) -> None:
        """Every GET route, as every one of R's identities, in every state."""
        hidden = self.hidden_secrets()
        for route in routes:
            if route.method != "GET" or not _receiver_can_call(route):
                continue
            # A variable this module does not fill fails here (UnknownVariable).
            urls = list(fillings(route, self.matrix))
            for role, caller in self.callers if not route.is_api else self.callers[:1]:
                who = "API key" if route.is_api else role
                for what, url in urls:
                    self.check(f"{route} as {who} with {what}", caller.call(route, url), hidden)

    def writes(self, routes: list[Route]) -> None:
        """Every other method of a route about a referral (accept, decline, won,
        lost, withdraw, commission corrections), in every state: its answer
        holds nothing the rule hides in the state it leaves the referral in."""
        owner = self.callers[0][1]
        for route in routes:
            if route.method == "GET" or "referral_id" not in route.variables:
                continue
            for state, referral_id in self.matrix.referral_ids.items():
                url = route.url({"referral_id": referral_id})
                response = owner.call(route, url, _body(route))
                now = {state: _visible_now(self.db, referral_id)}
                self.check(
                    f"{route} in state {state!r}",
                    response,
                    self.hidden_secrets(referral_visible=now),
                )

    def messages(self) -> None:
        """Email and notifications to R never carry a customer's identifying
        values: they outlive any consent, so none may hold them."""
        every = [s for secrets in self.matrix.secrets.values() for s in secrets]
        for email in queued_emails(self.db):
            if email.to in self.matrix.receiver_emails:
                self.check(
                    f"email to {email.to} ({email.subject})", _Text(email.text + email.html), every
                )
        for notification in self.db.exec(
            select(Notification).where(Notification.business_id == self.matrix.receiver_id)
        ):
            self.check(f"notification {notification.title!r}", _Text(notification.title), every)


@dataclass
class _Text:
    text: str
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    def get_data(self, as_text: bool = True) -> str:
        return self.text


def _body(route: Route) -> dict[str, Any] | None:
    if route.is_api:
        if route.rule.rule.endswith("/won"):
            return {"job_value_cents": 100_000, "job_date": TODAY.isoformat()}
        return {}
    return None


def test_the_receiver_sees_a_customer_only_after_consent_and_acceptance_on_every_route(
    app: Flask, db: Session
) -> None:
    matrix = build_matrix(app, db)
    walk = Walk(app, db, matrix)
    routes = all_routes(app)
    assert {(r.method, r.spec_path) for r in routes if r.is_api} == set(api_operations(app))

    walk.reads(routes)
    walk.messages()
    walk.writes(routes)
    walk.messages()

    assert not matrix.failures, "\n".join(matrix.failures)
    assert matrix.requests > 500, matrix.requests
    # The matrix means something only if R does see the customers it may see.
    shown = matrix.receiver_browsers["staff"].get(f"/referrals/{matrix.referral_ids['won']}")
    assert matrix.secrets["won"][0] in shown.get_data(as_text=True)


@pytest.mark.parametrize("backend", ["sqlite"])  # shows the test bites; one database is enough
def test_a_rule_opened_to_everyone_fails_the_matrix(
    app: Flask, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    matrix = build_matrix(app, db)
    monkeypatch.setattr(visibility, "receiver_sight", lambda **_: visibility.OWNER_SIGHT)
    walk = Walk(app, db, matrix)

    walk.reads(
        [r for r in all_routes(app) if "referral_id" in r.variables or "purchase_id" in r.variables]
    )

    failures = "\n".join(matrix.failures)
    assert "GET /api/v1/referrals/<int:referral_id>/consent" in failures
    assert "'refused by customer'" in failures or "refused by customer" in failures
    assert "paid, then withdrawn by customer" in failures
