"""Importing a CRM's customer list in a real browser: map, preview an update
and a conflict, import, import again (nothing added), undo."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from referral.customers.models import Customer, CustomerJob
from referral.customers.services import create_customer
from tests.support.factories import PASSWORD, make_business, make_user

CRM_EXPORT = (
    b"Client Name,E-mail,Phone,Zip Code,Invoice #,Invoice Date,Total\r\n"
    b'Ana Diaz,ana@example.com,,78702,INV-1,03/02/2025,"$4,250.00"\r\n'
    b"Bo Other,bo@example.com,512-555-0102,,,,\r\n"
    b"Cy New,cy@example.com,,78701,INV-2,2025-04-01,149\r\n"
)


def upload(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.goto("/customers/import")
    page.set_input_files("#file", {"name": "crm.csv", "mimeType": "text/csv", "buffer": CRM_EXPORT})
    page.click("form[data-busy] button[type=submit]")
    page.wait_for_url(re.compile(r"/customers/imports/\d+$"))


def test_map_preview_import_reimport_and_undo(page, live_server, db: Session) -> None:  # type: ignore[no-untyped-def]
    business = make_business(db)
    user = make_user(db, business)
    for data in (
        {"name": "Ana D.", "email": "ana@example.com", "zip_code": "78701"},
        {"name": "Ben Ode", "email": "ben@example.com", "phone": "+15125550102"},
    ):
        create_customer(session=db, business_id=business.id, data=data)  # type: ignore[arg-type]
    db.commit()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/login")
    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(live_server.url + "/")

    upload(page, live_server)
    first = page.url
    assert page.locator("#map-name").input_value() == "Client Name"
    assert page.locator("#map-job_amount").input_value() == "Total"
    summary = page.locator("#summary").inner_text()
    assert "1 new customers, 1 updates" in summary and "2 jobs to add" in summary
    assert page.locator("tr[data-line='2']").inner_text().count("Update") == 1
    assert "Conflict" in page.locator("tr[data-line='3']").inner_text()
    page.check("tr[data-line='2'] input[name=keep][value='2:zip_code']")
    page.click("#start")
    page.wait_for_selector("#counts")
    assert "Customers created\t1" in page.locator("#counts").inner_text()

    upload(page, live_server)
    assert "0 jobs to add, 2 jobs already recorded" in page.locator("#summary").inner_text()

    page.goto(first)
    page.click("text=Undo this import")
    page.wait_for_selector("text=Undone")
    db.expire_all()
    assert sorted(db.exec(select(Customer.name, Customer.zip_code)).all()) == [
        ("Ana D.", "78701"),
        ("Ben Ode", ""),
    ]
    assert db.exec(select(CustomerJob)).all() == []


PHONE = {"width": 390, "height": 844}
SQUARE_EXPORT = (
    b"Reference ID,First Name,Last Name,Email Address,Phone Number,Company Name,"
    b"Street Address 1,Street Address 2,City,State,Postal Code,Birthday,Memo,"
    b"Square Customer ID,Email Subscription Status\r\n"
    b"R1,Ana,Diaz,ana@example.com,(512) 555-0101,,1 Main St,,Austin,TX,78701,,"
    b"Gate code 1234,SQ-1,Subscribed\r\n"
)


def test_a_square_export_is_recognised_and_the_chooser_fits_a_phone(  # type: ignore[no-untyped-def]
    page, live_server, db: Session
):
    user = make_user(db, make_business(db))
    page.set_viewport_size(PHONE)
    page.goto("/login")
    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(live_server.url + "/")
    page.goto("/customers/import")
    page.set_input_files(
        "#file", {"name": "square.csv", "mimeType": "text/csv", "buffer": SQUARE_EXPORT}
    )
    page.click("form[data-busy] button[type=submit]")
    page.wait_for_url(re.compile(r"/customers/imports/\d+$"))

    assert page.locator("#preset").input_value() == "square_customers"
    assert page.locator("#map-external_id").input_value() == "Square Customer ID"
    assert "1 rows: 1 new customers" in page.locator("#summary").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # Choosing "Other" applies at once: the columns are mapped by their names alone.
    with page.expect_navigation(url=re.compile(r"/customers/imports/\d+#columns$")):
        page.select_option("#preset", "")
    assert page.locator("#preset").input_value() == ""
    assert page.locator("#map-external_id").input_value() == ""
    assert "Square Customer ID" in page.locator("#unmapped").inner_text()
    with page.expect_navigation(url=re.compile(r"/customers/imports/\d+#columns$")):
        page.select_option("#preset", "square_customers")
    assert page.locator("#map-external_id").input_value() == "Square Customer ID"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
