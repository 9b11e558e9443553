"""Service areas: US ZIP code centres from the offline `zipcodes` data, and overlap."""

from __future__ import annotations

import functools
import math
import re
import zoneinfo
from dataclasses import dataclass

import zipcodes

EARTH_RADIUS_MILES = 3958.7613
# The zones a business may choose: every zone the ZIP code data names (a few
# of its entries are not zones at all), sorted.
US_TIME_ZONES = tuple(
    sorted(
        {z["timezone"] for z in zipcodes.list_all() if z.get("timezone")}
        & zoneinfo.available_timezones()
    )
)
ZIP_PATTERN = re.compile(r"^\d{5}$")


@dataclass(frozen=True)
class ZipCentre:
    zip_code: str
    latitude: float
    longitude: float
    city: str
    state: str


@functools.lru_cache(maxsize=4096)
def zone_for_zip(zip_code: str) -> str | None:
    """The IANA time zone of a US ZIP code (zipcodes' data), or None."""
    zip_code = (zip_code or "").strip()
    if not ZIP_PATTERN.match(zip_code):
        return None
    matches = zipcodes.matching(zip_code)
    zone = matches[0].get("timezone", "") if matches else ""
    return zone if zone in US_TIME_ZONES else None


@functools.lru_cache(maxsize=4096)
def locate_zip(zip_code: str) -> ZipCentre | None:
    """The centre of a five-digit US ZIP code, or None when it is unknown."""
    zip_code = (zip_code or "").strip()
    if not ZIP_PATTERN.match(zip_code):
        return None
    matches = zipcodes.matching(zip_code)
    if not matches:
        return None
    found = matches[0]
    return ZipCentre(
        zip_code=zip_code,
        latitude=float(found["lat"]),
        longitude=float(found["long"]),
        city=found["city"],
        state=found["state"],
    )


def distance_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) between two points, in miles."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(a)))


class HasServiceArea:
    latitude: float
    longitude: float
    radius_miles: int


def service_areas_overlap(a: HasServiceArea, b: HasServiceArea) -> bool:
    """Two circular service areas overlap when their centres are no farther
    apart than the sum of their radii."""
    distance = distance_miles(a.latitude, a.longitude, b.latitude, b.longitude)
    return distance <= a.radius_miles + b.radius_miles


@functools.lru_cache(maxsize=1)
def _zip_centres() -> tuple[tuple[str, float, float], ...]:
    return tuple(
        (z["zip_code"], float(z["lat"]), float(z["long"]))
        for z in zipcodes.list_all()
        if z.get("lat") and z.get("long")
    )


@functools.lru_cache(maxsize=256)
def zips_within(zip_code: str, miles: int) -> tuple[str, ...]:
    """Every ZIP code whose centre is within `miles` of `zip_code`'s (itself
    included); empty for an unknown ZIP code."""
    centre = locate_zip(zip_code)
    if centre is None:
        return ()
    # A degree of latitude is ~69 miles: a cheap box first, then the distance.
    box = miles / 69.0 + 0.1
    return tuple(
        code
        for code, lat, lon in _zip_centres()
        if abs(lat - centre.latitude) <= box
        and distance_miles(centre.latitude, centre.longitude, lat, lon) <= miles
    )
