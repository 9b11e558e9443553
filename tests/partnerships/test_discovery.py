"""Discovery shows businesses I could partner with: other trades, overlapping areas."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from referral.partnerships import services
from referral.partnerships.discovery import discover_partners
from tests.support.factories import actor, agreed_partnership, make_business, make_user

pytestmark = pytest.mark.usefixtures("app_context")


@pytest.fixture
def me(db: Session):  # type: ignore[no-untyped-def]
    business = make_business(db, name="Cool Air HVAC", trade="hvac", zip_code="78701")
    return actor(make_user(db, business), business)


def names(candidates) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.business.name for c in candidates]


def test_lists_non_competing_overlapping_businesses_nearest_first(db: Session, me) -> None:
    make_business(db, name="Far Plumbing", trade="plumbing", zip_code="78613", radius_miles=25)
    make_business(db, name="Near Electric", trade="electrical", zip_code="78702")
    make_business(db, name="Rival HVAC", trade="hvac", zip_code="78702")
    make_business(db, name="Dallas Roofing", trade="roofing", zip_code="75201", radius_miles=40)

    found, total = discover_partners(session=db, business=me.business)

    assert names(found) == ["Near Electric", "Far Plumbing"]
    assert total == 2
    assert found[0].distance_miles < found[1].distance_miles
    assert found[0].trade_slug == "electrical"


def test_a_wide_radius_on_either_side_makes_areas_overlap(db: Session, me) -> None:
    # Austin to San Antonio is about 75 miles: 25 + 60 reaches, 25 + 40 does not.
    make_business(
        db, name="Reaching Pools", trade="pool-service", zip_code="78205", radius_miles=60
    )
    make_business(db, name="Short Pools", trade="pool-service", zip_code="78205", radius_miles=40)

    found, _ = discover_partners(session=db, business=me.business)

    assert names(found) == ["Reaching Pools"]


def test_filters_by_trade_and_searches_by_name(db: Session, me) -> None:
    make_business(db, name="Bright Sparks Electric", trade="electrical", zip_code="78702")
    make_business(db, name="Volt 100% Electric", trade="electrical", zip_code="78703")
    make_business(db, name="Bright Lawns", trade="landscaping", zip_code="78702")

    by_trade, _ = discover_partners(session=db, business=me.business, trade_slug="electrical")
    by_name, _ = discover_partners(session=db, business=me.business, name="bright")
    literal_percent, _ = discover_partners(session=db, business=me.business, name="100%")

    assert sorted(names(by_trade)) == ["Bright Sparks Electric", "Volt 100% Electric"]
    assert sorted(names(by_name)) == ["Bright Lawns", "Bright Sparks Electric"]
    assert names(literal_percent) == ["Volt 100% Electric"]


def test_pages_through_results_with_a_total(db: Session, me) -> None:
    for n in range(5):
        make_business(db, name=f"Partner {n}", trade="electrical", zip_code="78702")

    first, total = discover_partners(session=db, business=me.business, page=1, per_page=2)
    third, _ = discover_partners(session=db, business=me.business, page=3, per_page=2)

    assert total == 5 and len(first) == 2 and len(third) == 1


def test_marks_existing_partners_and_counts_active_partnerships(db: Session, me) -> None:
    partner_business = make_business(db, name="Drip Plumbing", trade="plumbing", zip_code="78704")
    partner = actor(make_user(db, partner_business), partner_business)
    agreed_partnership(db, me, partner)

    found, _ = discover_partners(session=db, business=me.business)

    assert found[0].partnership_status == "active"
    assert found[0].active_partnerships == 1


def test_blocked_businesses_are_hidden_from_both_sides(db: Session, me) -> None:
    other_business = make_business(db, name="Drip Plumbing", trade="plumbing", zip_code="78704")
    other = actor(make_user(db, other_business), other_business)

    services.block_business(session=db, actor=other, business_id=me.business_id)
    db.commit()

    assert discover_partners(session=db, business=me.business) == ([], 0)
    assert discover_partners(session=db, business=other.business) == ([], 0)
