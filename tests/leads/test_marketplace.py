"""The lead marketplace through the Stripe stand-in: a seller lists a consented
lead, nearby businesses of the needed trade see an anonymised preview, one buys
it, and sees the customer's details once Stripe confirms the payment."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from sqlmodel import Session, select

from referral.auth.models import User
from referral.customers.services import create_customer
from referral.db import utcnow
from referral.errors import DomainError
from referral.leads import offers, purchases
from referral.leads.models import Lead, LeadPurchase
from referral.ledger.services import balance, transaction_sums
from referral.payments.mismatches import find_mismatches
from tests.support.factories import sign_in
from tests.support.leads import bought
from tests.support.mail import queued_emails
from tests.support.payments import eventually
from tests.support.stripe_pages import fresh


def test_the_consent_page_names_the_marketplace_the_trade_the_area_and_the_number_of_buyers(
    app, db, market
):
    lead = market.list(max_buyers=3, consent_method="email_link")
    assert lead.status == "awaiting_consent"
    [email] = [m for m in queued_emails(db) if m.to == "ana@example.com"]
    path = "/" + email.link("/consent/").split("/", 3)[3]

    page = app.test_client().get(path).get_data(as_text=True)

    assert "Referral marketplace" in page
    assert "at most 3 Plumbing businesses" in page and "78704" in page
    assert (
        market.browser(market.buyer)
        .get("/leads")
        .get_data(as_text=True)
        .count("Water heater leaking")
        == 0
    )  # not live before the customer agrees
    client = app.test_client()
    token_page = client.get(path).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', token_page).group(1)
    client.post(path, data={"answer": "yes", "csrf_token": csrf})
    assert fresh(db, Lead).status == "live"


def test_only_nearby_businesses_of_the_needed_trade_see_an_anonymised_preview(app, db, market):
    market.list()

    seen = market.browser(market.buyer).get("/leads").get_data(as_text=True)

    assert "Water heater leaking" in seen and "$45.00" in seen
    assert "Ana" not in seen and "ana@example.com" not in seen and "5550101" not in seen
    for outsider in (market.far, market.electric, market.seller):
        assert "Water heater leaking" not in market.browser(outsider).get("/leads").get_data(
            as_text=True
        )
    lead = fresh(db, Lead)
    assert market.browser(market.far).get(f"/leads/{lead.id}").status_code == 404


def test_a_lead_for_a_competing_trade_or_by_a_seller_who_cannot_be_paid_is_refused(app, db, market):
    with app.app_context(), pytest.raises(DomainError, match="competes"):
        offers.offer_lead(
            session=db,
            actor=market.seller,
            data=offers.NewLead(
                customer_id=market.customer.id,
                trade_id=market.seller.business.trade_id,
                need="More AC",
                urgency="flexible",
                zip_code="78704",
                price_cents=1_000,
                max_buyers=1,
                expires_in_days=3,
                consent_method="attested_phone",
                attested_on=dt.date.today(),
            ),
        )


def test_buying_with_a_saved_card_shows_the_details_once_stripe_confirms(app, db, standin, market):
    lead = market.list()
    client = market.browser(market.buyer)

    response = client.post_form(
        f"/leads/{lead.id}/buy", {"method": "saved_card"}, page=f"/leads/{lead.id}"
    )

    assert response.status_code == 302
    purchase = eventually(
        lambda: (p := fresh(db, LeadPurchase)) and p.status == "paid" and p, what="paid"
    )
    page = client.get(f"/leads/purchases/{purchase.id}").get_data(as_text=True)
    assert "ana@example.com" in page and "+15125550101" in page
    assert fresh(db, Lead).status == "sold_out"
    [intent] = standin.client().v1.payment_intents.list().data
    assert intent.amount == 4_500 and intent.application_fee_amount == 225
    assert balance(db, "platform_fees") == -225
    assert balance(db, "payable", business_id=market.seller.business_id) == 0
    assert set(transaction_sums(db).values()) == {0}
    assert market.browser(market.rival).get(f"/leads/{lead.id}").status_code == 404  # sold


def test_buyers_racing_for_an_exclusive_lead_one_gets_it_nobody_else_is_charged(
    app, db, standin, market
):
    lead = market.list()
    racers = [market.buyer, market.rival, *market.more_buyers(6)]
    clients = {who.business_id: market.browser(who) for who in racers}
    tokens = {bid: c.csrf_token(f"/leads/{lead.id}") for bid, c in clients.items()}
    start = threading.Barrier(len(clients))

    def buy(business_id: int) -> None:
        start.wait()
        clients[business_id].post(
            f"/leads/{lead.id}/buy",
            data={"method": "saved_card", "csrf_token": tokens[business_id]},
        )

    threads = [threading.Thread(target=buy, args=(bid,)) for bid in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    eventually(lambda: (p := fresh(db, LeadPurchase)) and p.status == "paid", what="one paid")
    rows = db.exec(select(LeadPurchase)).all()
    assert [p.status for p in rows] == ["paid"]
    assert len(standin.client().v1.payment_intents.list().data) == 1


def test_a_lapsed_reservation_gives_its_place_back(app, db, market):
    lead = market.list()
    market.standin.send_webhooks_to(None)
    market.standin.add_fault("error_500", path_prefix="/v1/payment_intents", count=100)
    with app.app_context():
        purchase = purchases.reserve(
            session=db, actor=market.buyer, lead_id=lead.id, method="saved_card"
        )
        db.commit()
    assert fresh(db, Lead).places_held == 1
    purchase.reserved_until = utcnow() - dt.timedelta(seconds=1)
    db.commit()

    with app.app_context():
        assert purchases.release_if_lapsed(db, purchase)
        db.commit()

    assert (fresh(db, Lead).places_held, fresh(db, LeadPurchase).status) == (0, "expired")
    with app.app_context():
        again = purchases.reserve(
            session=db, actor=market.rival, lead_id=lead.id, method="saved_card"
        )
    assert again.status == "reserved"


def test_a_customer_withdrawing_consent_takes_the_details_from_the_buyer_at_once(app, db, market):
    from referral.consent import services as consent

    lead = market.list()
    client = market.browser(market.buyer)
    client.post_form(f"/leads/{lead.id}/buy", {"method": "saved_card"}, page=f"/leads/{lead.id}")
    purchase = eventually(lambda: (p := fresh(db, LeadPurchase)) and p.status == "paid" and p)
    with app.app_context():
        link = consent.withdrawal_link(consent.latest_record(db, lead_id=lead.id))
    path = "/" + link.split("/", 3)[3]
    anonymous = app.test_client()
    csrf = re.search(
        r'name="csrf_token" value="([^"]+)"', anonymous.get(path).get_data(as_text=True)
    ).group(1)

    anonymous.post(path, data={"csrf_token": csrf})

    assert fresh(db, Lead).status == "removed"
    page = client.get(f"/leads/purchases/{purchase.id}").get_data(as_text=True)
    assert "ana@example.com" not in page and "withdrew their consent" in page


def test_the_seller_can_withdraw_an_unsold_lead_but_not_a_sold_one(app, db, market):
    lead = market.list()
    seller = market.browser(market.seller)

    seller.post_form(f"/leads/{lead.id}/withdraw", {}, page=f"/leads/{lead.id}")

    assert fresh(db, Lead).status == "withdrawn"
    assert "Water heater" not in market.browser(market.buyer).get("/leads").get_data(as_text=True)


def test_buying_on_stripe_checkout(app, db, standin, market):
    lead = market.list()
    client = market.browser(market.rival)

    response = client.post_form(
        f"/leads/{lead.id}/buy", {"method": "checkout"}, page=f"/leads/{lead.id}"
    )

    assert response.status_code == 303
    session_id = re.search(r"/_standin/checkout/([^/?#]+)", response.headers["Location"]).group(1)
    opened = standin.client().v1.checkout.sessions.retrieve(session_id)
    assert opened.allowed_payment_method_types == ["card"]  # settles at once, no delayed methods
    assert 29 * 60 <= opened.expires_at - opened.created <= 30 * 60  # Stripe's shortest life
    again = client.post_form(
        f"/leads/{lead.id}/buy", {"method": "checkout"}, page=f"/leads/{lead.id}"
    )
    assert again.headers["Location"] == response.headers["Location"]  # one page, one payment
    assert standin.complete_checkout(session_id, "4242424242424242").status_code == 200
    purchase = eventually(
        lambda: (p := fresh(db, LeadPurchase)) and p.status == "paid" and p, what="paid"
    )
    assert "ana@example.com" in client.get(f"/leads/purchases/{purchase.id}").get_data(as_text=True)


def every_balance_is_zero(db: Session) -> None:
    from referral.ledger.models import ACCOUNTS

    for account in ACCOUNTS:
        assert balance(db, account) == 0, account
    assert set(transaction_sums(db).values()) == {0}


def test_a_verified_duplicate_is_credited_at_once_and_the_books_return_to_zero(
    app, db, standin, market
):
    from referral.leads.models import LeadDispute

    with app.app_context():  # the buyer already had Ana as its own customer
        create_customer(
            session=db,
            business_id=market.buyer.business_id,
            data={"name": "Ana D.", "email": "ana@example.com"},
        )
        db.commit()
    purchase = bought(app, db, market)
    client = market.browser(market.buyer)

    client.post_form(
        f"/leads/purchases/{purchase.id}/dispute",
        {"reason": "duplicate"},
        page=f"/leads/purchases/{purchase.id}",
    )

    assert fresh(db, LeadDispute).status == "upheld"
    assert fresh(db, LeadDispute).decided_by == "automatic"
    eventually(lambda: fresh(db, LeadPurchase).status == "refunded", what="refund booked")
    [transfer] = standin.client().v1.transfers.list().data
    assert transfer.amount_reversed == 4_500 - 225
    every_balance_is_zero(db)
    page = client.get(f"/leads/purchases/{purchase.id}").get_data(as_text=True)
    assert "ana@example.com" not in page


def test_an_unverifiable_dispute_goes_to_the_seller_then_the_operator(app, db, standin, market):
    from referral.leads.models import LeadDispute

    purchase = bought(app, db, market)
    market.browser(market.buyer).post_form(
        f"/leads/purchases/{purchase.id}/dispute",
        {"reason": "customer_denies", "note": "Said no"},
        page=f"/leads/purchases/{purchase.id}",
    )
    dispute = fresh(db, LeadDispute)
    assert dispute.status == "with_seller"

    market.browser(market.seller).post_form(
        f"/leads/disputes/{dispute.id}/answer",
        {"decision": "contest", "note": "She asked"},
        page=f"/leads/disputes/{dispute.id}",
    )
    assert fresh(db, LeadDispute).status == "with_operator"
    operator = db.get(User, market.electric.user_id)
    operator.is_operator = True
    db.commit()
    admin = sign_in(app, operator)
    assert "Said no" in admin.get("/operator/leads").get_data(as_text=True)

    admin.post_form(
        f"/operator/leads/disputes/{dispute.id}", {"decision": "uphold"}, page="/operator/leads"
    )

    assert fresh(db, LeadDispute).status == "upheld"
    eventually(lambda: fresh(db, LeadPurchase).status == "refunded", what="refund booked")
    every_balance_is_zero(db)


def test_a_dispute_after_seven_days_is_refused(app, db, market):
    purchase = bought(app, db, market)
    purchase.paid_at = utcnow() - dt.timedelta(days=8)
    db.commit()

    with app.app_context(), pytest.raises(DomainError, match="7 days"):
        from referral.leads import disputes

        disputes.open_dispute(
            session=db, actor=market.buyer, purchase_id=purchase.id, reason="wrong_contact"
        )


def test_buyers_reports_make_the_sellers_quality_score(app, db, market):
    from referral.leads.quality import seller_quality

    purchase = bought(app, db, market)
    market.browser(market.buyer).post_form(
        f"/leads/purchases/{purchase.id}/outcome",
        {"outcome": "won"},
        page=f"/leads/purchases/{purchase.id}",
    )

    quality = seller_quality(db, market.seller.business_id)

    assert (quality.sales, quality.reported, quality.contacted, quality.won) == (1, 1, 1, 1)
    assert quality.score is None  # too few reports to score yet


def test_the_leads_api_lists_sells_and_shows_contact_details_after_payment(app, db, market):
    from tests.support.api import api_client

    seller = api_client(app, db, db.get(User, market.seller.user_id))
    buyer = api_client(app, db, db.get(User, market.buyer.user_id))
    stranger = api_client(app, db, db.get(User, market.far.user_id))
    body = {
        "customer_id": market.customer.id,
        "trade_id": market.buyer.business.trade_id,
        "need": "Water heater leaking",
        "urgency": "this_week",
        "zip_code": "78704",
        "price_cents": 4_500,
        "max_buyers": 2,
        "consent_method": "attested_phone",
        "attested_on": dt.date.today().isoformat(),
    }

    created = seller.post("/leads", json=body)
    assert created.status_code == 201, created.get_json()
    lead_id = created.get_json()["id"]
    assert seller.post("/leads", json={**body, "max_buyers": 9}).status_code == 422
    [preview] = buyer.get("/leads").get_json()["items"]
    assert preview["id"] == lead_id and "customer" not in preview
    assert stranger.get(f"/leads/{lead_id}").status_code == 404

    purchase = buyer.post(f"/leads/{lead_id}/purchases", json={"method": "saved_card"})
    assert purchase.status_code == 201
    purchase_id = purchase.get_json()["id"]
    eventually(lambda: fresh(db, LeadPurchase).status == "paid", what="paid")

    shown = buyer.get(f"/leads/purchases/{purchase_id}").get_json()
    assert shown["customer"]["email"] == "ana@example.com"
    assert stranger.get(f"/leads/purchases/{purchase_id}").status_code == 404
    assert (
        buyer.post(f"/leads/purchases/{purchase_id}/outcome", json={"outcome": "won"}).status_code
        == 200
    )


def test_the_dashboards_show_leads_sold_and_bought(app, db, market):
    from tests.support.api import api_client

    bought(app, db, market)

    seller_page = market.browser(market.seller).get("/analytics").get_data(as_text=True)
    buyer_page = market.browser(market.buyer).get("/analytics").get_data(as_text=True)
    api = api_client(app, db, db.get(User, market.seller.user_id))
    [month] = api.get("/analytics/marketplace").get_json()["months"]

    assert 'id="figure-marketplace"' in seller_page and "$42.75" in seller_page
    assert "$45.00" in buyer_page
    assert (month["sold"], month["sold_cents"], month["bought"]) == (1, 4_275, 0)
    assert month["dispute_rate"] == {"numerator": 0, "denominator": 1}


def test_a_buyer_who_pays_after_losing_the_place_is_refunded_and_told_why(app, db, standin, market):
    from referral.notifications.models import Notification

    lead = market.list()
    slow = market.browser(market.rival)
    response = slow.post_form(
        f"/leads/{lead.id}/buy", {"method": "checkout"}, page=f"/leads/{lead.id}"
    )
    session_id = re.search(r"/_standin/checkout/([^/?#]+)", response.headers["Location"]).group(1)
    late = fresh(db, LeadPurchase)
    late.reserved_until = utcnow() - dt.timedelta(seconds=1)  # 15 minutes went by
    db.commit()
    with app.app_context():
        assert purchases.release_if_lapsed(db, late)
        db.commit()
    market.browser(market.buyer).post_form(
        f"/leads/{lead.id}/buy", {"method": "saved_card"}, page=f"/leads/{lead.id}"
    )
    eventually(lambda: fresh(db, Lead).status == "sold_out", what="sold to the quicker buyer")

    assert standin.complete_checkout(session_id, "4242424242424242").status_code == 200

    eventually(
        lambda: fresh(db, LeadPurchase, buyer_id=market.rival.business_id).status == "refunded",
        what="the late buyer refunded",
    )
    told = fresh(db, Notification, business_id=market.rival.business_id, kind="lead.refunded")
    assert "sold out while you were paying" in told.title
    refunds = standin.client().v1.refunds.list().data
    assert [r.amount for r in refunds] == [4_500]
    with app.app_context():  # refunded in full, never booked: consistent
        assert find_mismatches(db) == (2, [])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price_cents", 0),
        ("price_cents", -500),
        ("max_buyers", 6),
        ("expires_in_days", 0),
        ("expires_in_days", -3),
        ("zip_code", "7870"),
        ("urgency", "yesterday"),
    ],
)
def test_bad_listing_input_gets_a_field_map_and_lists_nothing(app, db, market, field, value):
    from tests.support.api import api_client

    seller = api_client(app, db, db.get(User, market.seller.user_id))
    body = {
        "customer_id": market.customer.id,
        "trade_id": market.buyer.business.trade_id,
        "need": "Water heater leaking",
        "urgency": "this_week",
        "zip_code": "78704",
        "price_cents": 4_500,
        "max_buyers": 1,
        "consent_method": "attested_phone",
        "attested_on": dt.date.today().isoformat(),
        field: value,
    }

    response = seller.post("/leads", json=body)

    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert fresh(db, Lead) is None


def test_the_listing_form_shows_what_is_wrong_and_lists_nothing(app, db, market):
    page = market.browser(market.seller).post_form(
        "/leads/new",
        {
            "customer_id": market.customer.id,
            "trade_id": market.buyer.business.trade_id,
            "need": "Water heater",
            "urgency": "this_week",
            "zip_code": "78704",
            "price": "0",
            "max_buyers": "1",
            "expires_in_days": "7",
            "consent_method": "email_link",
        },
        page="/leads/new",
    )

    assert page.status_code == 422
    assert "Enter an amount from $1.00 to $100,000.00." in page.get_data(as_text=True)
    assert fresh(db, Lead) is None


def test_outsiders_cannot_buy_even_through_the_api(app, db, market):
    from tests.support.api import api_client

    lead = market.list()
    for outsider in (market.far, market.electric, market.seller):
        client = api_client(app, db, db.get(User, outsider.user_id))
        assert client.post(f"/leads/{lead.id}/purchases", json={}).status_code == 404
    assert fresh(db, LeadPurchase) is None


def test_the_seller_can_accept_a_dispute_and_the_buyer_is_refunded(app, db, standin, market):
    from referral.leads.models import LeadDispute

    purchase = bought(app, db, market)
    market.browser(market.buyer).post_form(
        f"/leads/purchases/{purchase.id}/dispute",
        {"reason": "dead_contact"},
        page=f"/leads/purchases/{purchase.id}",
    )
    dispute = fresh(db, LeadDispute)

    market.browser(market.seller).post_form(
        f"/leads/disputes/{dispute.id}/answer",
        {"decision": "accept"},
        page=f"/leads/disputes/{dispute.id}",
    )

    assert (fresh(db, LeadDispute).status, fresh(db, LeadDispute).decided_by) == (
        "upheld",
        "seller",
    )
    eventually(lambda: fresh(db, LeadPurchase).status == "refunded", what="refund booked")
    every_balance_is_zero(db)
    with app.app_context():
        assert find_mismatches(db) == (1, [])


def test_the_operator_can_reject_a_contested_dispute_and_the_sale_stands(app, db, market):
    from referral.leads.models import LeadDispute

    purchase = bought(app, db, market)
    market.browser(market.buyer).post_form(
        f"/leads/purchases/{purchase.id}/dispute",
        {"reason": "wrong_contact"},
        page=f"/leads/purchases/{purchase.id}",
    )
    dispute = fresh(db, LeadDispute)
    market.browser(market.seller).post_form(
        f"/leads/disputes/{dispute.id}/answer",
        {"decision": "contest"},
        page=f"/leads/disputes/{dispute.id}",
    )
    operator = db.get(User, market.electric.user_id)
    operator.is_operator = True
    db.commit()

    sign_in(app, operator).post_form(
        f"/operator/leads/disputes/{dispute.id}", {"decision": "reject"}, page="/operator/leads"
    )

    assert fresh(db, LeadDispute).status == "rejected"
    assert fresh(db, LeadPurchase).status == "paid"
    assert "ana@example.com" in market.browser(market.buyer).get(
        f"/leads/purchases/{purchase.id}"
    ).get_data(as_text=True)


def test_a_suspended_seller_cannot_list_until_the_operator_has_reviewed_it(app, db, market):
    from referral.leads.models import SellerSuspension

    db.add(SellerSuspension(business_id=market.seller.business_id, dispute_rate_bps=4000))
    db.commit()
    with pytest.raises(DomainError, match="operator"):
        market.list()

    operator = db.get(User, market.electric.user_id)
    operator.is_operator = True
    db.commit()
    suspension = fresh(db, SellerSuspension)
    sign_in(app, operator).post_form(
        f"/operator/leads/suspensions/{suspension.id}/review",
        {"note": "Talked to them"},
        page="/operator/leads",
    )

    assert market.list().status == "live"


def test_a_lost_chargeback_on_a_lead_takes_back_the_sellers_transfer_and_the_details(
    app, db, standin, market
):
    from referral.notifications.models import Notification

    purchase = bought(app, db, market)
    dispute = standin.open_dispute(purchase.charge_id)
    eventually(
        lambda: fresh(
            db, Notification, business_id=market.seller.business_id, kind="lead.chargeback"
        ),
        what="seller told",
    )
    buyer = market.browser(market.buyer)
    assert "ana@example.com" in buyer.get(f"/leads/purchases/{purchase.id}").get_data(as_text=True)

    standin.close_dispute(dispute["id"], "lost")

    eventually(lambda: fresh(db, LeadPurchase).status == "refunded", what="chargeback booked")
    charge = standin.client().v1.charges.retrieve(purchase.charge_id)
    transfer = standin.client().v1.transfers.retrieve(charge.transfer)
    assert transfer.amount_reversed == purchase.price_cents - purchase.platform_fee_cents
    assert "ana@example.com" not in buyer.get(f"/leads/purchases/{purchase.id}").get_data(
        as_text=True
    )
    assert set(transaction_sums(db).values()) == {0}


def test_an_inquiry_on_a_lead_moves_nothing(app, db, standin, market):
    purchase = bought(app, db, market)
    inquiry = standin.open_dispute(purchase.charge_id, inquiry=True)
    standin.close_dispute(inquiry["id"], "warning_closed")

    from referral.payments.models import StripeEvent

    closed = eventually(
        lambda: (
            (e := fresh(db, StripeEvent, type="charge.dispute.closed"))
            and e.status != "received"
            and e
        ),
        what="closed applied",
    )
    assert "nothing moved" in closed.note
    assert fresh(db, LeadPurchase).status == "paid"
    charge = standin.client().v1.charges.retrieve(purchase.charge_id)
    assert standin.client().v1.transfers.retrieve(charge.transfer).amount_reversed == 0


def test_the_market_is_paged_newest_first_with_the_same_statements_for_any_number(app, db, market):
    from tests.support.api import api_client
    from tests.support.statements import statements

    buyer = api_client(app, db, db.get(User, market.buyer.user_id))
    listed = [market.list().id for _ in range(2)]
    buyer.get("/leads")  # the key's first use of the minute writes its last-used time
    with statements(app) as few:
        assert buyer.get("/leads?per_page=2").status_code == 200
    listed += [market.list().id for _ in range(3)]

    with statements(app) as many:
        first = buyer.get("/leads?per_page=2").get_json()
    last = buyer.get("/leads?per_page=2&page=3").get_json()
    beyond = buyer.get("/leads?per_page=2&page=9").get_json()

    assert len(many) == len(few)
    assert (first["total"], [p["id"] for p in first["items"]]) == (5, listed[:-3:-1])
    assert (last["page"], [p["id"] for p in last["items"]]) == (3, listed[:1])
    assert beyond["page"] == 3
    page = market.browser(market.buyer).get("/leads?page=1").get_data(as_text=True)
    assert "1–5 of 5 leads" in page
