"""`referral purge-expired-logins` deletes what can never be used again, and nothing else."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import update
from sqlmodel import Session, select

from referral.auth.cli import purge_expired_logins
from referral.auth.models import LoginSession, UserToken
from referral.db import utcnow
from tests.support.auth import is_signed_in
from tests.support.factories import SignedIn, sign_in


def test_purging_deletes_only_expired_sessions_and_links(
    app: Flask, client, db: Session, owner_a: SignedIn
) -> None:
    stale_browser = sign_in(app, owner_a.user)
    stale_id = db.exec(select(LoginSession.id).order_by(LoginSession.id.desc())).first()
    client.post_form("/password/forgot", {"email": owner_a.user.email})
    client.post_form("/password/forgot", {"email": owner_a.user.email})
    old_token_id = db.exec(select(UserToken.id).order_by(UserToken.id)).first()
    past = utcnow() - dt.timedelta(seconds=1)
    db.execute(update(LoginSession).where(LoginSession.id == stale_id).values(expires_at=past))
    db.execute(update(UserToken).where(UserToken.id == old_token_id).values(expires_at=past))
    db.commit()

    result = app.test_cli_runner().invoke(purge_expired_logins)

    assert result.exit_code == 0, result.output
    assert "Deleted 1 expired login sessions and 1 expired emailed links." in result.output
    db.expire_all()
    assert stale_id not in db.exec(select(LoginSession.id)).all()
    assert len(db.exec(select(LoginSession.id)).all()) == 1
    assert old_token_id not in db.exec(select(UserToken.id)).all()
    assert len(db.exec(select(UserToken.id)).all()) == 1
    assert is_signed_in(owner_a.client)
    assert not is_signed_in(stale_browser)
