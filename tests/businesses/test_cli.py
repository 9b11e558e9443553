"""`referral make-operator EMAIL` and `referral trades`."""

from __future__ import annotations

from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import User
from referral.businesses.taxonomy import TRADES
from tests.support.factories import SignedIn


def is_operator(db: Session, user: User) -> bool:
    db.expire_all()
    return db.exec(select(User.is_operator).where(User.id == user.id)).one()


def test_make_operator_grants_the_operator_pages(
    app: Flask, db: Session, owner_a: SignedIn
) -> None:
    runner = app.test_cli_runner()

    made = runner.invoke(args=["make-operator", "  Owner@CoolAir.Example.com "])
    again = runner.invoke(args=["make-operator", owner_a.user.email])

    assert made.exit_code == 0, made.output
    assert "owner@coolair.example.com is now an operator." in made.output
    assert again.exit_code == 0 and "already an operator" in again.output
    assert is_operator(db, owner_a.user)
    assert owner_a.client.get("/operator/trades").status_code == 200  # type: ignore[attr-defined]


def test_make_operator_refuses_an_unknown_email_and_changes_nothing(
    app: Flask, db: Session, owner_a: SignedIn
) -> None:
    result = app.test_cli_runner().invoke(args=["make-operator", "nobody@example.com"])

    assert result.exit_code == 1
    assert "No user has the email nobody@example.com" in result.output
    assert not db.exec(select(User).where(User.is_operator)).all()


def test_trades_lists_every_trade_with_its_competitors(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["trades"])

    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[:-1]}
    assert set(lines) == set(TRADES)
    assert "Painting" in lines["handyman"] and "Remodeling" in lines["handyman"]
    assert lines["pest-control"].endswith("competes with: only itself")
    assert f"{len(TRADES)} trades." in result.output
