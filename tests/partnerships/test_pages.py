"""Partnership pages: what owners, managers and staff can see and do in the browser."""

from __future__ import annotations

from flask import Flask
from sqlmodel import Session, select

from referral.partnerships.models import Partnership, Proposal
from tests.support.factories import SignedIn, make_business, make_user, sign_in

TERMS_FORM = {
    "they_refer_to_me-basis": "percent",
    "they_refer_to_me-percent": "10",
    "they_refer_to_me-hold_days": "14",
    "they_refer_to_me-response_window_hours": "48",
    "i_refer_to_them-basis": "flat_per_won",
    "i_refer_to_them-flat_fee": "150",
    "i_refer_to_them-hold_days": "7",
    "i_refer_to_them-response_window_hours": "24",
    "message": "Plumbing and HVAC go together",
}


def propose(owner: SignedIn, partner_id: int, **fields: str):  # type: ignore[no-untyped-def]
    return owner.client.post_form(  # type: ignore[attr-defined]
        f"/partners/{partner_id}/propose", {**TERMS_FORM, **fields}
    )


def test_discovery_lists_the_partner_with_trade_and_distance(owner_a: SignedIn, owner_b) -> None:
    page = owner_a.client.get("/partners").get_data(as_text=True)  # type: ignore[attr-defined]

    assert "Drip Plumbing" in page
    assert "Plumbing" in page and " mi</td>" in page


def test_a_proposal_answered_by_a_counter_proposal_and_accepted(
    db: Session, owner_a: SignedIn, owner_b: SignedIn
) -> None:
    response = propose(owner_a, owner_b.business.id)
    assert response.status_code == 302
    partnership = db.exec(select(Partnership)).one()
    detail = f"/partnerships/{partnership.id}"

    page = owner_b.client.get(detail).get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Plumbing and HVAC go together" in page
    assert "$150.00 per won job" in page

    countered = owner_b.client.post_form(  # type: ignore[attr-defined]
        f"{detail}/counter", {**TERMS_FORM, "i_refer_to_them-flat_fee": "175"}
    )
    assert countered.status_code == 302
    accepted = owner_a.client.post_form(f"{detail}/accept", page=detail)  # type: ignore[attr-defined]
    assert accepted.status_code == 302

    for owner in (owner_a, owner_b):
        page = owner.client.get(detail).get_data(as_text=True)  # type: ignore[attr-defined]
        assert "Version 1" in page
        assert 'id="partnership-status">Active' in page


def test_a_bad_form_is_shown_again_with_field_errors_and_nothing_is_saved(
    db: Session, owner_a: SignedIn, owner_b: SignedIn
) -> None:
    response = propose(
        owner_a,
        owner_b.business.id,
        **{"they_refer_to_me-percent": "0", "i_refer_to_them-hold_days": "91"},
    )

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Enter more than 0% and at most 50%." in page
    assert "Choose a hold period of 0 to 90 days." in page
    assert db.exec(select(Partnership)).all() == []


def test_proposing_to_a_competitor_is_refused_on_the_page(db: Session, owner_a: SignedIn) -> None:
    rival = make_business(db, name="Rival HVAC", trade="hvac", zip_code="78702")

    response = propose(owner_a, rival.id)

    assert response.status_code == 409
    assert "Your trades compete" in response.get_data(as_text=True)
    assert db.exec(select(Partnership)).all() == []


def test_staff_see_the_partnership_but_cannot_answer(
    app: Flask, db: Session, owner_a: SignedIn, owner_b: SignedIn
) -> None:
    propose(owner_a, owner_b.business.id)
    partnership = db.exec(select(Partnership)).one()
    staff = make_user(db, owner_b.business, email="sam@drip.example", role="staff")
    client = sign_in(app, staff)

    page = client.get(f"/partnerships/{partnership.id}").get_data(as_text=True)
    assert "An owner or manager of your business can answer" in page
    client.post_form(f"/partnerships/{partnership.id}/accept", page="/partnerships")

    db.refresh(partnership)
    assert partnership.status == "proposed"


def test_another_tenants_partnership_pages_are_404(
    app: Flask, db: Session, owner_a: SignedIn, owner_b: SignedIn
) -> None:
    propose(owner_a, owner_b.business.id)
    partnership = db.exec(select(Partnership)).one()
    outsider = make_business(db, name="Roof Co", trade="roofing", zip_code="78702")
    client = sign_in(app, make_user(db, outsider))

    assert client.get(f"/partnerships/{partnership.id}").status_code == 404
    assert client.get(f"/partnerships/{partnership.id}/counter").status_code == 404
    for action in ("accept", "decline", "withdraw", "pause", "end"):
        response = client.post_form(f"/partnerships/{partnership.id}/{action}", page="/partners")
        assert response.status_code == 404, action
    assert db.exec(select(Proposal.status)).all() == ["open"]


def test_notifications_list_what_happened(owner_a: SignedIn, owner_b: SignedIn) -> None:
    propose(owner_a, owner_b.business.id)

    page = owner_b.client.get("/notifications").get_data(as_text=True)  # type: ignore[attr-defined]

    assert "Cool Air HVAC proposed a partnership" in page
