"""Service areas: ZIP codes from offline data; two areas overlap when their
centres are no farther apart than the sum of their radii."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

import pytest
import zipcodes

from referral.businesses.geo import (
    US_TIME_ZONES,
    distance_miles,
    locate_zip,
    service_areas_overlap,
    zips_within,
)


@dataclass
class Area:
    latitude: float
    longitude: float
    radius_miles: float


def area(zip_code: str, radius: int) -> Area:
    centre = locate_zip(zip_code)
    assert centre is not None
    return Area(centre.latitude, centre.longitude, radius)


def miles(a: str, b: str) -> float:
    first, second = area(a, 0), area(b, 0)
    return distance_miles(first.latitude, first.longitude, second.latitude, second.longitude)


def test_known_zip_codes_have_centres_and_unknown_ones_do_not() -> None:
    austin = locate_zip("78701")
    round_rock = locate_zip(" 78664 ")
    assert austin is not None and (austin.city, austin.state) == ("Austin", "TX")
    assert round_rock is not None and round_rock.city == "Round Rock"
    for bad in ("00000", "99999", "7870", "787011", "78-01", "abcde", ""):
        assert locate_zip(bad) is None


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [
        ("78701", "78704", 1, 4),  # downtown Austin to South Austin
        ("78701", "78745", 4, 7),
        ("78701", "78205", 70, 80),  # San Antonio
        ("78701", "77002", 140, 155),  # Houston
        ("78701", "75201", 180, 190),  # Dallas
        ("10001", "90012", 2400, 2500),  # New York to Los Angeles
    ],
)
def test_distances_between_known_zip_codes_are_roughly_right(
    a: str, b: str, low: float, high: float
) -> None:
    assert low < miles(a, b) < high
    assert miles(a, b) == pytest.approx(miles(b, a))


def test_a_degree_of_latitude_is_about_69_miles() -> None:
    assert distance_miles(30.0, -97.0, 31.0, -97.0) == pytest.approx(69.09, abs=0.01)
    assert distance_miles(30.0, -97.0, 30.0, -97.0) == 0


def test_areas_overlap_exactly_when_the_distance_is_at_most_the_sum_of_radii() -> None:
    distance = distance_miles(30.0, -97.0, 31.0, -97.0)

    def overlap(r1: float, r2: float) -> bool:
        return service_areas_overlap(Area(30.0, -97.0, r1), Area(31.0, -97.0, r2))

    assert overlap(distance / 2, distance / 2)  # touching counts
    assert overlap(35, 35) and overlap(69, 1)
    assert not overlap(35, 34) and not overlap(distance / 2, distance / 2 - 0.001)


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        (("78701", 25), ("78704", 5), True),  # a few miles apart
        (("78701", 1), ("78701", 1), True),  # same centre
        (("78701", 25), ("78205", 40), False),  # San Antonio, ~74 miles
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


def test_the_zip_table_is_the_zipcodes_packages_data() -> None:
    """The app reads a compact table written from the `zipcodes` package
    (devtools/zip_centres.py); that package stays the authority."""
    for entry in zipcodes.list_all():
        centre = locate_zip(entry["zip_code"])
        assert centre is not None, entry["zip_code"]
        assert (centre.latitude, centre.longitude) == (float(entry["lat"]), float(entry["long"]))
        assert (centre.city, centre.state, centre.time_zone) == (
            entry["city"],
            entry["state"],
            entry["timezone"],
        )
    assert US_TIME_ZONES == tuple(
        sorted(
            {z["timezone"] for z in zipcodes.list_all() if z["timezone"]}
            & zoneinfo.available_timezones()
        )
    )


def test_zip_codes_within_a_radius_are_those_whose_centre_is_that_close() -> None:
    downtown = locate_zip("78701")
    assert downtown is not None
    nearby = zips_within("78701", 10)
    assert "78701" in nearby and "78704" in nearby and "78205" not in nearby
    for code in nearby:
        centre = locate_zip(code)
        assert centre is not None
        assert (
            distance_miles(downtown.latitude, downtown.longitude, centre.latitude, centre.longitude)
            <= 10
        )
    assert zips_within("00000", 10) == ()
