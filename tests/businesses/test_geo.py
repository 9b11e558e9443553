"""Service areas: ZIP codes from offline data; two areas overlap when their
centres are no farther apart than the sum of their radii."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from referral.businesses.geo import distance_miles, locate_zip, service_areas_overlap


@dataclass
class Area:
    latitude: float
    longitude: float
    radius_miles: int


def area(zip_code: str, radius: int) -> Area:
    centre = locate_zip(zip_code)
    assert centre is not None
    return Area(centre.latitude, centre.longitude, radius)


def test_known_zip_codes_have_centres_and_unknown_ones_do_not() -> None:
    austin = locate_zip("78701")
    assert austin is not None and austin.city == "Austin" and austin.state == "TX"
    for bad in ("00000", "7870", "787011", "abcde", ""):
        assert locate_zip(bad) is None


def test_distances_are_great_circle_miles() -> None:
    austin, dallas = locate_zip("78701"), locate_zip("75201")
    assert austin and dallas
    assert (
        180
        < distance_miles(austin.latitude, austin.longitude, dallas.latitude, dallas.longitude)
        < 190
    )


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        (("78701", 25), ("78704", 5), True),  # a few miles apart
        (("78701", 25), ("78205", 40), False),  # San Antonio, ~75 miles
        (("78701", 25), ("78205", 60), True),
        (("78701", 200), ("10001", 200), False),  # New York
    ],
)
def test_service_areas_overlap_when_the_radii_reach(
    a: tuple[str, int], b: tuple[str, int], overlap: bool
) -> None:
    first, second = area(*a), area(*b)
    assert service_areas_overlap(first, second) is overlap
    assert service_areas_overlap(second, first) is overlap
