"""Teams: owners invite, change roles and remove; nobody reaches another business's team."""

from __future__ import annotations

from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import Invitation, User
from tests.factories import SignedIn, make_user, sign_in
from tests.support.mail import last_email


def invite(owner: SignedIn, email: str, role: str = "staff"):  # type: ignore[no-untyped-def]
    return owner.client.post_form(  # type: ignore[attr-defined]
        "/team/invitations", {"email": email, "role": role}, page="/team"
    )


def test_an_invited_person_joins_with_the_role_and_is_signed_in(
    app: Flask, db: Session, owner_a: SignedIn
) -> None:
    assert invite(owner_a, "casey@coolair.example", "manager").status_code == 302
    path = last_email(db, to="casey@coolair.example").path("/invitations/")
    client = app.test_client()

    response = client.post_form(path, {"name": "Casey", "password": "casey's password"})

    assert response.status_code == 302
    casey = db.exec(select(User).where(User.email == "casey@coolair.example")).one()
    assert (casey.business_id, casey.role) == (owner_a.business.id, "manager")
    assert casey.email_verified_at is not None
    assert "Casey" in client.get("/").get_data(as_text=True)
    assert client.get(path).status_code == 400  # used


def test_bad_invitations_are_refused_and_write_nothing(
    db: Session, owner_a: SignedIn, owner_b: SignedIn
) -> None:
    for email, role in [
        ("not-an-email", "staff"),
        ("x@example.com", "emperor"),
        (owner_b.user.email.upper(), "staff"),
    ]:
        assert invite(owner_a, email, role).status_code == 422
    assert db.exec(select(Invitation)).all() == []


def test_only_owners_invite(app: Flask, db: Session, owner_a: SignedIn) -> None:
    manager = make_user(db, owner_a.business, email="m@coolair.example", role="manager")
    client = sign_in(app, manager)

    client.post_form("/team/invitations", {"email": "x@example.com", "role": "staff"}, page="/team")

    assert db.exec(select(Invitation)).all() == []
    assert "Only owners can invite" in client.get("/team").get_data(as_text=True)


def test_owners_change_roles_and_remove_members(app: Flask, db: Session, owner_a: SignedIn) -> None:
    staff = make_user(db, owner_a.business, email="s@coolair.example", role="staff")
    staff_client = sign_in(app, staff)

    owner_a.client.post_form(  # type: ignore[attr-defined]
        f"/team/members/{staff.id}/role", {"role": "manager"}, page="/team"
    )
    db.refresh(staff)
    assert staff.role == "manager"

    owner_a.client.post_form(f"/team/members/{staff.id}/remove", page="/team")  # type: ignore[attr-defined]

    db.refresh(staff)
    assert staff.disabled_at is not None
    assert staff_client.get("/team").status_code == 302  # logged out at once


def test_the_last_owner_cannot_be_demoted_or_removed(db: Session, owner_a: SignedIn) -> None:
    client = owner_a.client
    client.post_form(f"/team/members/{owner_a.user.id}/role", {"role": "staff"}, page="/team")  # type: ignore[attr-defined]

    db.refresh(owner_a.user)
    assert owner_a.user.role == "owner"
    assert "at least one owner" in client.get("/team").get_data(as_text=True)  # type: ignore[attr-defined]


def test_another_businesss_members_and_invitations_are_404(
    db: Session, owner_a: SignedIn, owner_b: SignedIn
) -> None:
    invite(owner_b, "x@drip.example")
    invitation = db.exec(select(Invitation)).one()
    client = owner_a.client

    for path, data in [
        (f"/team/members/{owner_b.user.id}/role", {"role": "staff"}),
        (f"/team/members/{owner_b.user.id}/remove", {}),
        (f"/team/invitations/{invitation.id}/revoke", {}),
    ]:
        assert client.post_form(path, data, page="/team").status_code == 404, path  # type: ignore[attr-defined]
    db.refresh(owner_b.user)
    db.refresh(invitation)
    assert (owner_b.user.role, owner_b.user.disabled_at, invitation.revoked_at) == (
        "owner",
        None,
        None,
    )
