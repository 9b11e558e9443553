"""CSV exports of referrals (both ways), commissions, settlements and
customers: streamed a chunk at a time from a batched query, every text cell
that a spreadsheet would run as a formula quoted, times in the business's
zone, and the receiver of a referral sees the customer's ZIP code only."""

from __future__ import annotations

import csv
import io

from flask import Flask
from sqlalchemy import event
from sqlmodel import Session

from referral.auth.models import User
from referral.customers.models import Customer
from referral.customers.services import create_customer
from referral.settlements.services import build_settlement
from referral.spreadsheet import CHUNK_ROWS, csv_chunks
from tests.support.factories import business, partner_up, percent, sign_in, won_referral


def _table(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_chunks_hold_a_bounded_number_of_rows_and_quote_formulas() -> None:
    rows = (("=HYPERLINK(1)", n) for n in range(2 * CHUNK_ROWS + 1))
    chunks = csv_chunks(("text", "n"), rows)
    first = next(chunks)
    assert first.count("\r\n") == CHUNK_ROWS + 1  # the header and one chunk of rows
    assert "'=HYPERLINK(1)" in first and "\r\n=HYPERLINK" not in first
    assert len(list(chunks)) == 2


def test_each_export_is_a_streamed_csv_of_the_business_own_rows(app: Flask, db: Session) -> None:
    hvac = business(db, "Export HVAC", "hvac", "78701", "export@hvac.example")
    plumber = business(db, "Export Plumbing", "plumbing", "78704", "export@plumbing.example")
    with app.app_context():
        partnership = partner_up(db, hvac, plumber, a_pays=percent(1000), b_pays=percent(1000))
        referral = won_referral(db, hvac, plumber, 125_000)
        settlement = build_settlement(db, partnership)
        create_customer(
            session=db, business_id=hvac.business_id, data={"name": "=cmd|' /C calc'!A0"}
        )
    db.commit()
    sender = sign_in(app, db.get(User, hvac.user_id))
    receiver = sign_in(app, db.get(User, plumber.user_id))

    for url in ("/referrals/outbox.csv", "/commissions.csv", "/settlements.csv", "/customers.csv"):
        response = sender.get(url, buffered=False)  # as a browser receives it
        assert response.status_code == 200 and response.mimetype == "text/csv", url
        assert "attachment" in response.headers["Content-Disposition"]
        assert response.get_data(as_text=True).count("\r\n") >= 2, url  # header and a row
        response.close()

    sent = _table(sender.get("/referrals/outbox.csv"))
    assert sent[0][:4] == ["referral", "date", "partner", "customer"]
    assert [r[0] for r in sent[1:]] == [str(referral.id)]
    assert sent[1][2] == "Export Plumbing" and sent[1][7] == "1250.00"
    assert sent[1][1].endswith((" CST", " CDT"))  # Austin's time, not UTC

    received = _table(receiver.get("/referrals/inbox.csv"))
    assert received[1][3].startswith("ZIP ")  # the receiver sees no customer name

    earned = _table(sender.get("/commissions.csv"))
    assert [(r[1], r[3], r[6]) for r in earned[1:]] == [("earned", "Export Plumbing", "125.00")]
    assert _table(receiver.get("/commissions.csv"))[1][1] == "owed"

    settled = _table(receiver.get("/settlements.csv"))
    assert [(r[0], r[3], r[4], r[5]) for r in settled[1:]] == [
        (str(settlement.id), "pays", "Export HVAC", "125.00")
    ]

    names = [r[0] for r in _table(sender.get("/customers.csv"))[1:]]
    assert "'=cmd|' /C calc'!A0" in names
    assert _table(receiver.get("/customers.csv"))[1:] == []


def test_a_large_export_is_sent_while_it_is_read_a_batch_at_a_time(app: Flask, db: Session) -> None:
    shop = business(db, "Long List HVAC", "hvac", "78701", "owner@longlist.example")
    total = 2_500
    db.add_all(
        Customer(business_id=shop.business_id, name=f"=Customer {n}", email=f"c{n}@example.com")
        for n in range(total)
    )
    db.commit()
    owner = sign_in(app, db.get(User, shop.user_id))
    loaded: list[int | None] = []

    def count(customer: Customer, _context: object) -> None:
        loaded.append(customer.id)

    event.listen(Customer, "load", count)
    try:
        response = owner.get("/customers.csv", buffered=False)
        assert response.status_code == 200
        body = iter(response.response)
        first = next(body).decode()  # the test client has read it to start the response
        # The first chunk leaves with one batch of customers read, not all of them.
        assert first.count("\r\n") == CHUNK_ROWS + 1
        assert CHUNK_ROWS <= len(loaded) <= 1_000 < total
        rest = b"".join(body).decode()
        response.close()
    finally:
        event.remove(Customer, "load", count)
    rows = list(csv.reader(io.StringIO(first + rest)))
    assert len(rows) == total + 1 and len(loaded) == total
    assert rows[1][0] == "'=Customer 0"  # formulas quoted as ever
