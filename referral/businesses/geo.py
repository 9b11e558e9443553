"""Service areas: US ZIP code centres from offline data (the `zipcodes` package's), and overlap."""

from __future__ import annotations

import functools
import gzip
import math
import re
import zoneinfo
from array import array
from dataclasses import dataclass
from importlib import resources

EARTH_RADIUS_MILES = 3958.7613
ZIP_PATTERN = re.compile(r"^\d{5}$")


@dataclass(frozen=True)
class ZipCentre:
    zip_code: str
    latitude: float
    longitude: float
    city: str
    state: str
    time_zone: str


class _ZipTable:
    """Every US ZIP code's centre, city, state and zone, from
    `zip_centres.tsv.gz` (written from the `zipcodes` data by
    devtools/zip_centres.py), in a few MB: the table's text kept as one bytes
    object, a ZIP code's line found through a 100,000-slot array, and the
    centres in two arrays of floats for the radius scan. Loaded once per process."""

    def __init__(self) -> None:
        self.text = gzip.decompress(
            resources.files("referral.businesses").joinpath("zip_centres.tsv.gz").read_bytes()
        )
        self.line_of = array("i", [-1]) * 100_000  # ZIP code as a number -> line
        self.starts = array("I")
        self.zips = array("I")
        self.latitudes = array("d")
        self.longitudes = array("d")
        zones: set[str] = set()
        start = 0
        for number, line in enumerate(self.text.splitlines(keepends=True)):
            code, latitude, longitude, _city, _state, zone = line.rstrip(b"\n").split(b"\t")
            self.line_of[int(code)] = number
            self.starts.append(start)
            self.zips.append(int(code))
            self.latitudes.append(float(latitude))
            self.longitudes.append(float(longitude))
            zones.add(zone.decode())
            start += len(line)
        self.starts.append(start)
        # The zones a business may choose: every zone the data names (a few of
        # its entries are not zones at all), sorted.
        self.zones = tuple(sorted(zones & zoneinfo.available_timezones()))

    def centre(self, zip_code: str) -> ZipCentre | None:
        number = self.line_of[int(zip_code)]
        if number < 0:
            return None
        line = self.text[self.starts[number] : self.starts[number + 1]].decode()
        _code, _lat, _lon, city, state, zone = line.rstrip("\n").split("\t")
        return ZipCentre(
            zip_code=zip_code,
            latitude=self.latitudes[number],
            longitude=self.longitudes[number],
            city=city,
            state=state,
            time_zone=zone,
        )


@functools.cache
def _zip_table() -> _ZipTable:
    return _ZipTable()


US_TIME_ZONES = _zip_table().zones


def zone_for_zip(zip_code: str) -> str | None:
    """The IANA time zone of a US ZIP code, or None."""
    centre = locate_zip(zip_code)
    if centre is None or centre.time_zone not in US_TIME_ZONES:
        return None
    return centre.time_zone


@functools.lru_cache(maxsize=4096)
def locate_zip(zip_code: str) -> ZipCentre | None:
    """The centre of a five-digit US ZIP code, or None when it is unknown."""
    zip_code = (zip_code or "").strip()
    if not ZIP_PATTERN.match(zip_code):
        return None
    return _zip_table().centre(zip_code)


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


@functools.lru_cache(maxsize=256)
def zips_within(zip_code: str, miles: int) -> tuple[str, ...]:
    """Every ZIP code whose centre is within `miles` of `zip_code`'s (itself
    included); empty for an unknown ZIP code."""
    centre = locate_zip(zip_code)
    if centre is None:
        return ()
    table = _zip_table()
    # A degree of latitude is ~69 miles: a cheap box first, then the distance.
    box = miles / 69.0 + 0.1
    return tuple(
        f"{code:05d}"
        for code, lat, lon in zip(table.zips, table.latitudes, table.longitudes, strict=True)
        if abs(lat - centre.latitude) <= box
        and distance_miles(centre.latitude, centre.longitude, lat, lon) <= miles
    )
