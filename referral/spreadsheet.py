"""Text put into CSV files that people open in spreadsheets."""

from __future__ import annotations

# What spreadsheets run as a formula when a cell starts with it (OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralised(text: str) -> str:
    """`text` as a cell no spreadsheet runs: quoted when it starts like a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text
