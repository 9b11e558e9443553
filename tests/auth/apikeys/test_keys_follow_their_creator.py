"""A key acts with its creator's current role and dies with their membership:
removing a member, or moving them below manager, revokes every key they
created, in the same transaction, and the owner is told how many."""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.auth.apikeys.services import create_api_key
from referral.auth.models import ApiKey, User
from referral.customers.models import Customer
from tests.support.factories import SignedIn, make_user, sign_in


def key_of(app: Flask, db: Session, user: User, name: str = "CRM sync") -> dict[str, str]:
    with app.app_context():
        secret = create_api_key(session=db, actor=user, name=name).secret
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def manager(app: Flask, db: Session, owner_a: SignedIn) -> User:
    return make_user(db, owner_a.business, email="mo@coolair.example", name="Mo", role="manager")


def customers_answer(app: Flask, headers: dict[str, str]) -> int:
    return app.test_client().get("/api/v1/customers", headers=headers).status_code


def test_removing_a_member_revokes_the_keys_they_created_and_says_how_many(
    app: Flask, db: Session, owner_a: SignedIn, manager: User
) -> None:
    first, second = key_of(app, db, manager), key_of(app, db, manager, "Zapier")
    owners_key = key_of(app, db, owner_a.user)
    assert customers_answer(app, first) == 200

    done = owner_a.client.post_form(  # type: ignore[attr-defined]
        f"/team/members/{manager.id}/remove", {}, page="/team", follow_redirects=True
    )

    assert "The 2 API keys they created were revoked." in done.get_data(as_text=True)
    for headers in (first, second):
        assert customers_answer(app, headers) == 401
        refused = app.test_client().post(
            "/api/v1/customers", json={"name": "Eve", "email": "e@x.example"}, headers=headers
        )
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert customers_answer(app, owners_key) == 200
    db.expire_all()
    assert db.exec(select(Customer)).all() == []
    revoked = db.exec(select(ApiKey).where(ApiKey.created_by_id == manager.id)).all()
    assert all(key.revoked_at is not None for key in revoked)


def test_moving_a_member_below_manager_revokes_their_keys(
    app: Flask, db: Session, owner_a: SignedIn, manager: User
) -> None:
    headers = key_of(app, db, manager)

    done = owner_a.client.post_form(  # type: ignore[attr-defined]
        f"/team/members/{manager.id}/role", {"role": "staff"}, page="/team", follow_redirects=True
    )

    assert "Role changed. The API key they created was revoked." in done.get_data(as_text=True)
    assert customers_answer(app, headers) == 401


def test_a_refused_removal_revokes_nothing(app: Flask, db: Session, owner_a: SignedIn) -> None:
    headers = key_of(app, db, owner_a.user)

    done = owner_a.client.post_form(  # type: ignore[attr-defined]
        f"/team/members/{owner_a.user.id}/remove", {}, page="/team", follow_redirects=True
    )

    assert "A business needs at least one owner." in done.get_data(as_text=True)
    assert customers_answer(app, headers) == 200


def test_a_key_of_a_member_removed_before_keys_were_revoked_no_longer_works(
    app: Flask, db: Session, owner_a: SignedIn, manager: User
) -> None:
    headers = key_of(app, db, manager)
    from referral.db import utcnow

    manager.disabled_at = utcnow()  # as removals did before they revoked keys
    db.add(manager)
    db.commit()

    assert customers_answer(app, headers) == 401


def test_the_keys_page_shows_who_created_each_key_and_its_last_use(
    app: Flask, db: Session, owner_a: SignedIn, manager: User
) -> None:
    key_of(app, db, manager, "Used")
    customers_answer(app, key_of(app, db, owner_a.user, "Mine"))

    page = sign_in(app, manager).get("/settings/api-keys").get_data(as_text=True)

    rows = {
        row.split("</td>")[0].split("<td>")[-1]: row
        for row in page.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    }
    assert "Mo" in rows["Used"] and "Never" in rows["Used"]
    assert "Alex Cool" in rows["Mine"] and "Never" not in rows["Mine"]


def test_a_key_used_while_its_creator_is_removed_answers_with_old_rights_or_401(
    app: Flask, db: Session, owner_a: SignedIn, manager: User
) -> None:
    headers = key_of(app, db, manager)
    answers: list[int] = []
    stop = threading.Event()

    def use_the_key() -> None:
        client = app.test_client()
        while not stop.is_set() or len(answers) < 3:
            answers.append(client.get("/api/v1/customers", headers=headers).status_code)

    user = threading.Thread(target=use_the_key)
    user.start()
    try:
        removed = owner_a.client.post_form(  # type: ignore[attr-defined]
            f"/team/members/{manager.id}/remove", {}, page="/team"
        )
    finally:
        stop.set()
        user.join(timeout=60)

    assert removed.status_code == 302
    assert set(answers) <= {200, 401}, answers  # never a 500
    assert customers_answer(app, headers) == 401
