"""Teams: owners invite, change roles and remove; others only look; nobody
reaches another business's team."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import update
from sqlmodel import Session, select

from referral.auth.models import Invitation, LoginSession, User
from referral.auth.passwords import verify_password
from tests.support.auth import is_signed_in, row_counts
from tests.support.factories import PASSWORD, SignedIn, make_user, sign_in
from tests.support.mail import last_email, queued_emails

ROLE_REFUSED = "Your role does not allow that."
LAST_OWNER = "A business needs at least one owner."


def invite(owner: SignedIn, email: str, role: str = "staff"):  # type: ignore[no-untyped-def]
    return owner.client.post_form(  # type: ignore[attr-defined]
        "/team/invitations", {"email": email, "role": role}, page="/team"
    )


def post(signed_in: SignedIn, path: str, data: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return signed_in.client.post_form(path, data or {}, page="/team")  # type: ignore[attr-defined]


def page(signed_in: SignedIn, path: str = "/team") -> str:
    return signed_in.client.get(path).get_data(as_text=True)  # type: ignore[attr-defined]


def reload(db: Session, row):  # type: ignore[no-untyped-def]
    db.expire_all()
    return db.get(type(row), row.id)


@pytest.fixture
def manager(app: Flask, db: Session, owner_a: SignedIn) -> SignedIn:
    user = make_user(db, owner_a.business, email="m@coolair.example", name="Mo", role="manager")
    return SignedIn(owner_a.business, user, sign_in(app, user))


@pytest.fixture
def staff(app: Flask, db: Session, owner_a: SignedIn) -> SignedIn:
    user = make_user(db, owner_a.business, email="s@coolair.example", name="Sol", role="staff")
    return SignedIn(owner_a.business, user, sign_in(app, user))


# --- invitations -------------------------------------------------------------------------


def test_an_invited_person_joins_with_the_role_and_is_signed_in(
    app: Flask, db: Session, owner_a: SignedIn
) -> None:
    assert invite(owner_a, "Casey@CoolAir.example", "manager").status_code == 302
    email = last_email(db, to="casey@coolair.example")
    assert email.subject == "Alex Cool invited you to Cool Air HVAC on Referral"
    assert email.link("/invitations/").startswith(f"{app.config['BASE_URL']}/invitations/")
    assert "casey@coolair.example as manager" in page(owner_a)
    path = email.path("/invitations/")
    client = app.test_client()
    assert "Join Cool Air HVAC" in client.get(path).get_data(as_text=True)

    response = client.post_form(path, {"name": "Casey", "password": "a warm welcome aboard"})

    assert response.status_code == 302
    casey = db.exec(select(User).where(User.email == "casey@coolair.example")).one()
    assert (casey.business_id, casey.role, casey.name) == (owner_a.business.id, "manager", "Casey")
    assert casey.email_verified_at is not None
    assert verify_password(casey.password_hash, "a warm welcome aboard")
    assert db.exec(select(LoginSession.user_id).where(LoginSession.user_id == casey.id)).all()
    assert "Casey" in client.get("/").get_data(as_text=True)
    assert client.get(path).status_code == 400  # used
    assert "casey@coolair.example as manager" not in page(owner_a)  # no longer waiting


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "Casey", "password": "short"}, "password", "Use 10 to 128 characters."),
        ({"name": "Casey", "password": "x" * 1000}, "password", "Use 10 to 128 characters."),
        ({"name": "", "password": "a warm welcome aboard"}, "name", "Enter a name of 1 to 120"),
    ],
)
def test_a_bad_acceptance_is_refused_and_the_invitation_keeps_waiting(
    app: Flask, db: Session, owner_a: SignedIn, fields: dict[str, str], field: str, message: str
) -> None:
    invite(owner_a, "casey@coolair.example")
    path = last_email(db, to="casey@coolair.example").path("/invitations/")
    client = app.test_client()
    before = row_counts(db)

    response = client.post_form(path, fields)

    assert response.status_code == 422
    assert f'id="{field}-error">{message}' in response.get_data(as_text=True)
    assert row_counts(db) == before
    assert db.exec(select(Invitation.accepted_at)).all() == [None]
    assert not is_signed_in(client)


@pytest.mark.parametrize(
    ("bad_input", "message"),
    [
        ({"email": "not-an-email", "role": "staff"}, "Enter a valid email address."),
        ({"email": "x@example.com", "role": "emperor"}, "Choose a role."),
        ({"email": "x@example.com", "role": ""}, "Choose a role."),
        ({"email": "OWNER@drip.example.com", "role": "staff"}, "already exists"),
    ],
)
def test_bad_invitations_are_refused_and_write_nothing(
    db: Session, owner_a: SignedIn, owner_b: SignedIn, bad_input: dict[str, str], message: str
) -> None:
    before = row_counts(db)

    response = post(owner_a, "/team/invitations", bad_input)

    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert row_counts(db) == before


def test_a_second_invitation_to_a_waiting_email_is_refused(db: Session, owner_a: SignedIn) -> None:
    invite(owner_a, "casey@coolair.example")

    again = invite(owner_a, "CASEY@coolair.example", "owner")

    assert again.status_code == 422
    assert "An invitation to this email is already waiting." in again.get_data(as_text=True)
    assert len(db.exec(select(Invitation)).all()) == 1
    assert len(queued_emails(db, to="casey@coolair.example")) == 1


def test_a_revoked_invitation_no_longer_works(app: Flask, db: Session, owner_a: SignedIn) -> None:
    invite(owner_a, "casey@coolair.example")
    path = last_email(db, to="casey@coolair.example").path("/invitations/")
    invitation = db.exec(select(Invitation)).one()

    assert post(owner_a, f"/team/invitations/{invitation.id}/revoke").status_code == 302

    assert reload(db, invitation).revoked_at is not None
    client = app.test_client()
    assert client.get(path).status_code == 400
    refused = client.post_form(
        path, {"name": "Casey", "password": "a warm welcome aboard"}, page="/login"
    )
    assert refused.status_code == 400
    assert db.exec(select(User).where(User.email == "casey@coolair.example")).all() == []


def test_an_expired_invitation_no_longer_works(app: Flask, db: Session, owner_a: SignedIn) -> None:
    invite(owner_a, "casey@coolair.example")
    path = last_email(db, to="casey@coolair.example").path("/invitations/")
    db.execute(update(Invitation).values(expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    db.commit()

    response = app.test_client().get(path)

    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert "casey@coolair.example as staff" not in page(owner_a)  # not listed as waiting


def test_an_invitation_to_an_email_that_signed_up_meanwhile_is_refused(
    app: Flask, db: Session, owner_a: SignedIn, owner_b: SignedIn
) -> None:
    invite(owner_a, "late@example.com")
    path = last_email(db, to="late@example.com").path("/invitations/")
    make_user(db, owner_b.business, email="late@example.com")
    before = row_counts(db)

    response = app.test_client().post_form(
        path, {"name": "Late", "password": "a tardy arrival indeed"}
    )

    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    assert row_counts(db) == before


# --- roles ---------------------------------------------------------------------------------


def test_managers_and_staff_see_the_team_read_only(
    owner_a: SignedIn, manager: SignedIn, staff: SignedIn
) -> None:
    for member in (manager, staff):
        html = page(member)
        assert all(name in html for name in ("Alex Cool", "Mo", "Sol"))
        assert "/team/invitations" not in html
        assert "/role" not in html and "/remove" not in html
        assert "Only owners can invite or remove people." in html
    assert "/team/invitations" in page(owner_a)


@pytest.mark.parametrize("who", ["manager", "staff"])
def test_only_owners_invite_change_roles_or_remove(
    request: pytest.FixtureRequest, db: Session, owner_a: SignedIn, staff: SignedIn, who: str
) -> None:
    member: SignedIn = request.getfixturevalue(who)
    before = row_counts(db)

    for path, data in [
        ("/team/invitations", {"email": "x@example.com", "role": "owner"}),
        (f"/team/members/{member.user.id}/role", {"role": "owner"}),
        (f"/team/members/{owner_a.user.id}/role", {"role": "staff"}),
        (f"/team/members/{owner_a.user.id}/remove", {}),
    ]:
        response = post(member, path, data)
        assert response.status_code == 302, path
        assert ROLE_REFUSED in page(member, response.headers["Location"])

    assert row_counts(db) == before
    assert reload(db, member.user).role == who
    assert (reload(db, owner_a.user).role, reload(db, owner_a.user).disabled_at) == ("owner", None)


def test_owners_change_roles(db: Session, owner_a: SignedIn, staff: SignedIn) -> None:
    response = post(owner_a, f"/team/members/{staff.user.id}/role", {"role": "manager"})

    assert response.status_code == 302
    assert reload(db, staff.user).role == "manager"
    assert "Role changed." in page(owner_a)


def test_an_unknown_role_changes_nothing(db: Session, owner_a: SignedIn, staff: SignedIn) -> None:
    post(owner_a, f"/team/members/{staff.user.id}/role", {"role": "emperor"})

    assert reload(db, staff.user).role == "staff"
    assert "Choose a role." in page(owner_a)


def test_a_removed_member_is_logged_out_cannot_log_in_and_can_be_invited_again(
    app: Flask, db: Session, owner_a: SignedIn, staff: SignedIn
) -> None:
    response = post(owner_a, f"/team/members/{staff.user.id}/remove")

    assert response.status_code == 302
    removed = reload(db, staff.user)
    assert removed.disabled_at is not None
    assert not is_signed_in(staff.client)
    assert db.exec(select(LoginSession).where(LoginSession.user_id == removed.id)).all() == []
    assert "Sol" not in page(owner_a)
    login = app.test_client().post_form(
        "/login", {"email": "s@coolair.example", "password": PASSWORD}
    )
    assert login.status_code == 401
    assert invite(owner_a, "s@coolair.example").status_code == 302


def test_with_two_owners_one_can_step_down(app: Flask, db: Session, owner_a: SignedIn) -> None:
    second = make_user(db, owner_a.business, email="o2@coolair.example", role="owner")

    post(owner_a, f"/team/members/{second.id}/role", {"role": "manager"})

    assert reload(db, second).role == "manager"


def test_the_last_owner_cannot_be_demoted(db: Session, owner_a: SignedIn, staff: SignedIn) -> None:
    response = post(owner_a, f"/team/members/{owner_a.user.id}/role", {"role": "staff"})

    assert response.status_code == 302
    assert reload(db, owner_a.user).role == "owner"
    assert LAST_OWNER in page(owner_a)


def test_the_last_owner_cannot_be_removed(db: Session, owner_a: SignedIn) -> None:
    post(owner_a, f"/team/members/{owner_a.user.id}/remove")

    assert LAST_OWNER in page(owner_a)  # still signed in, told why
    assert reload(db, owner_a.user).disabled_at is None


def test_an_accepted_invitation_cannot_be_revoked(
    app: Flask, db: Session, owner_a: SignedIn
) -> None:
    invite(owner_a, "casey@coolair.example")
    path = last_email(db, to="casey@coolair.example").path("/invitations/")
    app.test_client().post_form(path, {"name": "Casey", "password": "a warm welcome aboard"})
    invitation = db.exec(select(Invitation)).one()

    post(owner_a, f"/team/invitations/{invitation.id}/revoke")

    assert reload(db, invitation).revoked_at is None
    assert "already accepted" in page(owner_a)


# --- other businesses ----------------------------------------------------------------------


def test_another_businesss_members_and_invitations_are_404(
    db: Session, owner_a: SignedIn, owner_b: SignedIn
) -> None:
    invite(owner_b, "x@drip.example")
    invitation = db.exec(select(Invitation)).one()
    before = row_counts(db)

    for path, data in [
        (f"/team/members/{owner_b.user.id}/role", {"role": "staff"}),
        (f"/team/members/{owner_b.user.id}/remove", {}),
        (f"/team/invitations/{invitation.id}/revoke", {}),
        ("/team/members/999999/remove", {}),
        ("/team/invitations/999999/revoke", {}),
    ]:
        assert post(owner_a, path, data).status_code == 404, path

    assert row_counts(db) == before
    owner = reload(db, owner_b.user)
    assert (owner.role, owner.disabled_at) == ("owner", None)
    assert reload(db, invitation).revoked_at is None
    assert is_signed_in(owner_b.client)


def test_the_team_page_lists_only_my_business(owner_a: SignedIn, owner_b: SignedIn) -> None:
    invite(owner_b, "x@drip.example")

    html = page(owner_a)

    assert "Alex Cool" in html
    assert "Blair Drip" not in html and "x@drip.example" not in html
