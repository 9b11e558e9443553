"""Write referral/businesses/zip_centres.tsv.gz from the `zipcodes` package.

The app needs, per US ZIP code, only its centre, city, state and time zone.
`zipcodes.list_all()` materialises 42,000 dicts of fourteen fields each
(about 140 MB in every process that asks); this table holds the five fields
the app uses, sorted by ZIP code, and loads into a few MB
(`referral.businesses.geo`). `zipcodes` stays the authority: it is a test
dependency, and tests/businesses/test_geo.py checks the table against it.

    .venv/bin/python devtools/zip_centres.py   # after upgrading zipcodes
"""

from __future__ import annotations

import gzip
from pathlib import Path

import zipcodes

TABLE = Path(__file__).resolve().parent.parent / "referral" / "businesses" / "zip_centres.tsv.gz"


def table_lines() -> list[str]:
    """One line per ZIP code with a centre: zip, latitude, longitude, city, state, zone."""
    rows = sorted(
        (z["zip_code"], z["lat"], z["long"], z["city"], z["state"], z.get("timezone") or "")
        for z in zipcodes.list_all()
        if z.get("lat") and z.get("long")
    )
    return ["\t".join(row) for row in rows]


def main() -> None:
    text = "\n".join(table_lines()) + "\n"
    # mtime=0: the same data gives the same bytes, so a regeneration is no diff.
    TABLE.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    print(f"wrote {TABLE} (zipcodes {zipcodes.__version__})")


if __name__ == "__main__":
    main()
