"""Presets: a file exported from Jobber, Housecall Pro, ServiceTitan,
QuickBooks Online or Square is recognised by its header and mapped as that
tool writes it; the user can still change each column or map their own."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.customers import imports, presets, reading
from referral.customers.models import Customer, MarketingPermission
from tests.support.api import ApiClient, api_client
from tests.support.factories import SignedIn, make_business, make_user, upload_customer_list

# A value each Referral field accepts, for a sample row of every preset.
SAMPLE = {
    "name": "Ana Diaz",
    "first_name": "Ana",
    "last_name": "Diaz",
    "email": "ana@example.com",
    "phone": "(512) 555-0101",
    "mobile": "512-555-0102",
    "address": "1 Main St",
    "city": "Austin",
    "state": "TX",
    "zip_code": "78701",
    "notes": "Gate code 1234",
    "external_id": "C-1",
    "marketing_permission": "Subscribed",
}


def sample_file(preset: presets.Preset) -> str:
    """The preset's header and one customer, with something in the columns
    Referral does not import too."""
    header = ",".join(preset.columns)
    row = ",".join(SAMPLE[name] if name else "other" for name in preset.columns.values())
    return f"{header}\r\n{row}\r\n"


@pytest.mark.parametrize("key", list(presets.PRESETS))
def test_each_presets_header_maps_every_column_it_names(key: str) -> None:
    preset = presets.PRESETS[key]
    columns = list(preset.columns)

    mapping = presets.mapping_for(preset, columns)

    assert mapping == preset.mapped
    assert set(mapping.values()) == {c for c, name in preset.columns.items() if name}
    assert reading.check_mapping(mapping, columns) == {}
    assert presets.detect_preset(columns) == key


@pytest.mark.parametrize("key", list(presets.PRESETS))
def test_a_file_from_a_preset_is_recognised_and_imports_as_mapped(db: Session, key: str) -> None:
    business = make_business(db)
    assert business.id is not None
    preset = presets.PRESETS[key]

    record = imports.upload_import(
        session=db,
        business_id=business.id,
        user_id=None,
        filename="export.csv",
        content=sample_file(preset).encode(),
    )
    imports.plan_import(session=db, record=record)
    imports.start_import(session=db, record=record, in_background=False)
    db.commit()

    assert record.choices["preset"] == key
    assert record.mapping == preset.mapped
    assert record.counts["customers_created"] == 1, record.message
    customer = db.exec(select(Customer)).one()
    assert customer.name == "Ana Diaz"
    for name in preset.mapped:
        if name in ("email", "city", "state", "zip_code", "external_id", "notes", "address"):
            assert getattr(customer, name) == SAMPLE[name], name
    if "marketing_permission" in preset.mapped:
        assert customer.marketing_permission == MarketingPermission.GRANTED


def test_a_presets_file_is_recognised_whatever_its_spelling_and_extra_columns() -> None:
    columns = [
        "first name", "LAST NAME", "Email address", "Phone number", "Street address 1",
        "City", "State", "Postal code", "Memo", "Square customer ID",
        "Email subscription status", "Loyalty points",
    ]  # fmt: skip

    assert presets.detect_preset(columns) == "square_customers"
    mapping = presets.mapping_for(presets.PRESETS["square_customers"], columns)
    assert mapping["email"] == "Email address" and mapping["zip_code"] == "Postal code"


def test_a_file_of_ones_own_columns_is_from_no_preset() -> None:
    assert presets.detect_preset(["Client Name", "E-mail", "Mobile", "Zip Code"]) == presets.OTHER
    # A preset missing one of the columns it maps is not assumed.
    jobber = [c for c in presets.PRESETS["jobber_clients"].columns if c != "E-mails"]
    assert presets.detect_preset(jobber) == presets.OTHER


def test_the_mapping_page_offers_the_file_from_chooser_and_applies_a_preset(
    db: Session, owner_a: SignedIn
) -> None:
    jobber = presets.PRESETS["jobber_clients"]
    uploaded = upload_customer_list(owner_a, sample_file(jobber), "export.csv")
    page = owner_a.client.get(uploaded.location).get_data(as_text=True)  # type: ignore[attr-defined]

    assert '<label for="preset">File from</label>' in page
    assert '<option value="jobber_clients" selected>Jobber: clients export</option>' in page
    assert '<option value="">Other / my own columns</option>' in page
    assert 'value="Main Phone #s" selected' in page
    assert "<strong>Not imported:</strong> Company Name, Title, First Name" in page

    # Choosing "Other" maps the columns by their names instead; Jobber again maps them back.
    form = {"encoding": "utf-8", "delimiter": ",", "preset": "", "apply_preset": "yes"}
    other = owner_a.client.post_form(  # type: ignore[attr-defined]
        f"{uploaded.location}/mapping", form, page=uploaded.location
    )
    assert other.status_code == 302
    page = owner_a.client.get(uploaded.location).get_data(as_text=True)  # type: ignore[attr-defined]
    assert '<option value="" selected>Other / my own columns</option>' in page
    # By header names alone Lead Source is taken for the permission's source; Jobber's is not.
    assert 'value="Lead Source" selected' in page

    again = owner_a.client.post_form(  # type: ignore[attr-defined]
        f"{uploaded.location}/mapping",
        form | {"preset": "jobber_clients"},
        page=uploaded.location,
    )
    assert again.status_code == 302
    record = imports.get_import(
        session=db, business_id=owner_a.business.id, import_id=int(uploaded.location.split("/")[-1])
    )
    db.refresh(record)
    assert record.mapping == jobber.mapped

    # Each column can still be changed by hand (the chooser is not re-applied).
    changed = owner_a.client.post_form(  # type: ignore[attr-defined]
        f"{uploaded.location}/mapping",
        {
            "encoding": "utf-8",
            "delimiter": ",",
            "preset": "jobber_clients",
            **{f"map-{name}": column for name, column in jobber.mapped.items()},
            "map-notes": "Tags",
        },
        page=uploaded.location,
    )
    assert changed.status_code == 302
    db.refresh(record)
    assert record.mapping == jobber.mapped | {"notes": "Tags"}


def test_an_unknown_preset_on_the_page_is_a_form_error(db: Session, owner_a: SignedIn) -> None:
    uploaded = upload_customer_list(
        owner_a, sample_file(presets.PRESETS["square_customers"]), "export.csv"
    )
    refused = owner_a.client.post_form(  # type: ignore[attr-defined]
        f"{uploaded.location}/mapping",
        {"encoding": "utf-8", "delimiter": ",", "preset": "nope", "apply_preset": "yes"},
        page=uploaded.location,
    )
    assert refused.status_code == 422
    assert "Unknown preset" in refused.get_data(as_text=True)


@pytest.fixture
def api(app: Flask, db: Session) -> ApiClient:
    business = make_business(db)
    return api_client(app, db, make_user(db, business))


def api_upload(api: ApiClient, content: bytes, filename: str = "c.csv"):  # type: ignore[no-untyped-def]
    return api.client.post(
        "/api/v1/customers/imports",
        headers=api.headers,
        data={"file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )


def test_the_api_recognises_a_preset_and_applies_one_asked_for(api: ApiClient) -> None:
    square = presets.PRESETS["square_customers"]
    uploaded = api_upload(api, sample_file(square).encode(), "square.csv")
    assert uploaded.status_code == 201, uploaded.json
    assert uploaded.json["preset"] == "square_customers"
    assert uploaded.json["mapping"] == square.mapped
    url = f"/api/v1/customers/imports/{uploaded.json['id']}/mapping"

    mine = api.client.put(url, headers=api.headers, json={"preset": ""})
    assert mine.status_code == 200, mine.json
    assert mine.json["preset"] == ""
    assert "external_id" not in mine.json["mapping"]  # "Square Customer ID" is no common name

    back = api.client.put(
        url,
        headers=api.headers,
        json={"preset": "square_customers", "mapping": {"notes": "", "state": "Company Name"}},
    )
    assert back.status_code == 200, back.json
    expected = {name: c for name, c in square.mapped.items() if name != "notes"}
    assert back.json["mapping"] == expected | {"state": "Company Name"}
    assert back.json["preset"] == "square_customers" and back.json["mapping_errors"] == {}


def test_the_api_refuses_an_unknown_preset_naming_the_field(api: ApiClient) -> None:
    uploaded = api_upload(api, b"name,email\nAna,ana@example.com\n")
    url = f"/api/v1/customers/imports/{uploaded.json['id']}/mapping"

    unknown = api.client.put(url, headers=api.headers, json={"preset": "jobber"})
    nothing = api.client.put(url, headers=api.headers, json={})

    assert unknown.status_code == 422 and "preset" in str(unknown.json["errors"])
    assert nothing.status_code == 422 and "mapping" in str(nothing.json["errors"])
    assert api.get(f"/customers/imports/{uploaded.json['id']}").json["mapping"] == {
        "name": "name",
        "email": "email",
    }


def test_utf16_chosen_for_a_file_without_its_byte_order_mark_is_a_422(api: ApiClient) -> None:
    uploaded = api_upload(api, b"name,email\nAna,ana@example.com\n")
    url = f"/api/v1/customers/imports/{uploaded.json['id']}/mapping"

    refused = api.client.put(url, headers=api.headers, json={"encoding": "utf-16", "preset": ""})

    assert refused.status_code == 422 and "UTF-16" in str(refused.json["errors"]["file"])
