"""A fresh database for the Referral app, and a business that can call it.

The business, its owner, a login session and an API key are written straight
through the models, so the harness depends on no page or API being written.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Connection, make_url
from sqlmodel import Session, select

from referral import create_app
from referral.auth.apikeys.services import KEY_PREFIX
from referral.auth.current import SESSION_KEY
from referral.auth.models import ApiKey, LoginSession, User
from referral.auth.passwords import hash_password
from referral.auth.tokens import hash_token, new_token
from referral.businesses.actor import Actor
from referral.businesses.geo import locate_zip
from referral.businesses.models import Business, Trade
from referral.businesses.taxonomy import seed_trades
from referral.config import Config
from referral.customers.models import Customer
from referral.db import make_engine, transaction, utcnow
from referral.domains import load_all_models
from referral.partnerships.services import TermsPair, accept_proposal, propose_partnership
from referral.partnerships.terms import TermsOffer

ROOT = Path(__file__).resolve().parents[1]
REFERRAL_CLI = Path(sys.executable).parent / "referral"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test_bench"
BUSINESS_NAME = "Bench HVAC"
OWNER_NAME = "Bench Owner"


class SetupFailed(RuntimeError):
    """The database could not be prepared for a run."""


@dataclass(frozen=True)
class Credentials:
    """What a client sends to be the seeded business."""

    api_key: str
    cookie_name: str
    cookie_value: str

    def with_cookie(self, value: str) -> Credentials:
        """The same credentials holding the session cookie the app set last."""
        return Credentials(self.api_key, self.cookie_name, value)

    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def page_headers(self) -> dict[str, str]:
        return {"Cookie": f"{self.cookie_name}={self.cookie_value}"}


def fresh_database(kind: str, *, pg_url: str, work_dir: Path) -> str:
    """An empty database: a new SQLite file in work_dir, or PostgreSQL dropped and
    created again (its name comes from pg_url; never point it at data you keep)."""
    if kind == "sqlite":
        return f"sqlite:///{work_dir / 'referral.db'}"
    url = make_url(pg_url)
    if not url.database or not any(word in url.database for word in ("bench", "test")):
        raise SetupFailed(
            f"--pg-url must name a scratch database (with 'bench' or 'test' in its name): "
            f"it is dropped and created again. Got {url.database!r}."
        )
    with server_connection(pg_url) as connection:
        quoted = connection.dialect.identifier_preparer.quote(url.database)
        connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {quoted}"))
    return url.render_as_string(hide_password=False)


@contextmanager
def server_connection(pg_url: str) -> Iterator[Connection]:
    """An autocommit connection to the `postgres` database of pg_url's server: for
    creating and dropping databases and reading pg_stat_activity."""
    engine = create_engine(make_url(pg_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def referral_env(database_url: str) -> dict[str, str]:
    """The environment the Referral app runs with in the benchmark."""
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "MAIL_BACKEND": "outbox",
    }


def create_schema(env: dict[str, str], *, how: str) -> None:
    """`migrations`: `referral db upgrade`, as a deployment does (schema and trades).
    `create_all`: the models' tables and the trades, for when migrations lag the models."""
    if how == "migrations":
        completed = subprocess.run(
            [str(REFERRAL_CLI), "db", "upgrade"],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
        )
        if completed.returncode != 0:
            raise SetupFailed(
                "`referral db upgrade` failed; try --schema create_all if the migrations "
                f"lag the models.\n{completed.stdout}{completed.stderr}"
            )
        return
    engine = make_engine(env["DATABASE_URL"])
    try:
        load_all_models().create_all(engine)
        with Session(engine) as session:
            seed_trades(session)
            session.commit()
    finally:
        engine.dispose()


def seed_business(env: dict[str, str]) -> Credentials:
    """A business with an owner, a live login session and an API key."""
    app = create_app(Config({**os.environ, **env}))
    centre = locate_zip("78701")
    assert centre is not None
    with app.app_context():
        with transaction() as session:
            trade = session.exec(select(Trade).where(Trade.slug == "hvac")).one()
            business = Business(
                name=BUSINESS_NAME,
                trade_id=trade.id,
                zip_code=centre.zip_code,
                latitude=centre.latitude,
                longitude=centre.longitude,
                radius_miles=25,
                description="Heating and cooling for central Austin.",
                phone="+15125550100",
                website="https://bench-hvac.example.com",
            )
            session.add(business)
            session.flush()
            owner = User(
                business_id=business.id,
                email=f"owner-{secrets.token_hex(4)}@bench.example.com",
                name=OWNER_NAME,
                role="owner",
                password_hash=hash_password(secrets.token_urlsafe(16)),
                email_verified_at=utcnow(),
            )
            session.add(owner)
            session.flush()
            api_key, login_token = issue_credentials(session, owner)
        app.extensions["db_engine"].dispose()
    return Credentials(api_key, app.config["SESSION_COOKIE_NAME"], session_cookie(app, login_token))


def issue_credentials(session: Session, owner: User) -> tuple[str, str]:
    """A day-long login session and an API key for `owner` (flushed), added to
    `session`: (API key, login token). session_cookie() makes the cookie."""
    prefix = KEY_PREFIX + secrets.token_hex(4)
    api_key = f"{prefix}_{secrets.token_urlsafe(32)}"
    login_token, login_hash = new_token()
    session.add(
        LoginSession(
            user_id=owner.id,
            token_hash=login_hash,
            expires_at=utcnow() + dt.timedelta(days=1),
            user_agent="bench",
        )
    )
    session.add(
        ApiKey(
            business_id=owner.business_id,
            created_by_id=owner.id,
            name="bench",
            prefix=prefix,
            key_hash=hash_token(api_key),
        )
    )
    return api_key, login_token


def session_cookie(app: Flask, login_token: str) -> str:
    """The session cookie the login page sets: Flask's signed session holding the
    login token under "sid", marked permanent."""
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert serializer is not None
    return str(serializer.dumps({"_permanent": True, SESSION_KEY: login_token}))


PARTNER_TRADE = "plumbing"  # does not compete with the seeded HVAC business
PARTNER_ZIP = "78704"  # inside the seeded business's service area


@dataclass(frozen=True)
class Partners:
    """Active partners of the seeded business, and customers of its own to refer.

    Any customer may go to any partner once in 30 days, so there are
    len(partner_ids) * len(customer_ids) referrals to send before one repeats.
    """

    partner_ids: list[int]
    customer_ids: list[int]


def actor_for(session: Session, business: Business) -> Actor:
    owner = session.exec(
        select(User).where(User.business_id == business.id, User.role == "owner")
    ).first()
    assert owner is not None, business.name
    return Actor.of_user(owner, business)


def seed_partners(env: dict[str, str], *, partners: int, customers: int) -> Partners:
    """`partners` businesses (plumbing, nearby) in active partnerships with the
    seeded business, agreed through the partnership services; `customers`
    customers of the seeded business, each with an email address (asking for
    consent by email needs one). Call after seed_business."""
    app = create_app(Config({**os.environ, **env}))
    centre = locate_zip(PARTNER_ZIP)
    assert centre is not None
    partner_ids: list[int] = []
    password_hash = hash_password(secrets.token_urlsafe(16))
    with app.app_context():
        with transaction() as session:
            seeded = session.exec(select(Business).where(Business.name == BUSINESS_NAME)).one()
            trade = session.exec(select(Trade).where(Trade.slug == PARTNER_TRADE)).one()
            me = actor_for(session, seeded)
            for number in range(1, partners + 1):
                partner = Business(
                    name=f"Bench Plumbing {number}",
                    trade_id=trade.id,
                    zip_code=centre.zip_code,
                    latitude=centre.latitude,
                    longitude=centre.longitude,
                    radius_miles=25,
                )
                session.add(partner)
                session.flush()
                session.add(
                    User(
                        business_id=partner.id,
                        email=f"owner-{number}-{secrets.token_hex(4)}@plumbing.bench.example.com",
                        name=f"Plumber {number}",
                        role="owner",
                        password_hash=password_hash,
                        email_verified_at=utcnow(),
                    )
                )
                session.flush()
                offer = TermsOffer(basis="percent", rate_bps=1000, response_window_hours=48)
                partnership = propose_partnership(
                    session=session,
                    actor=me,
                    partner_id=partner.id,
                    terms=TermsPair(they_refer_to_me=offer, i_refer_to_them=offer),
                )
                accept_proposal(
                    session=session,
                    actor=actor_for(session, partner),
                    partnership_id=partnership.id,
                )
                partner_ids.append(partner.id)
            if customers:
                session.execute(
                    insert(Customer),
                    [
                        {
                            "business_id": seeded.id,
                            "name": f"Customer {number}",
                            "email": f"customer-{number}@bench.example.com",
                            "phone": f"+1512555{number % 10000:04d}",
                            "zip_code": "78701",
                            "created_at": utcnow(),
                        }
                        for number in range(1, customers + 1)
                    ],
                )
            customer_ids = list(
                session.exec(
                    select(Customer.id)
                    .where(Customer.business_id == seeded.id)
                    .order_by(Customer.id)
                )
            )
        app.extensions["db_engine"].dispose()
    return Partners(partner_ids, customer_ids)  # type: ignore[arg-type]


def count_referrals(database_url: str) -> int:
    """Referrals in the database: a POST benchmark checks each request wrote one."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM referral")).scalar_one())
    finally:
        engine.dispose()
