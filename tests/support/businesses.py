"""An HVAC business and a plumber, each with its owner, not partners: the
`hvac` and `plumber` fixtures for tests that choose the terms themselves
(registered in tests/conftest.py; a folder's conftest or a test module may
define its own, such as partners already agreed)."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from referral.businesses.actor import Actor
from tests.support.factories import business


@pytest.fixture
def hvac(db: Session) -> Actor:
    return business(db, "Cool Air HVAC", "hvac", "78701", "alex@coolair.example")


@pytest.fixture
def plumber(db: Session) -> Actor:
    return business(db, "Drip Plumbing", "plumbing", "78704", "blair@drip.example")
