"""The seeded trade taxonomy and which trades compete.

This is the starting data; operators edit the competition table afterwards on
the operator's trades page. `seed_trades` adds only what is missing, so running
it again never undoes an operator's edit to an existing trade.
"""

from __future__ import annotations

from sqlmodel import Session, select

from referral.businesses.models import Trade, TradeCompetition

TRADES: dict[str, str] = {
    "hvac": "HVAC",
    "plumbing": "Plumbing",
    "electrical": "Electrical",
    "roofing": "Roofing",
    "carpet-cleaning": "Carpet cleaning",
    "house-cleaning": "House cleaning",
    "landscaping": "Landscaping",
    "tree-service": "Tree service",
    "pest-control": "Pest control",
    "painting": "Painting",
    "flooring": "Flooring",
    "remodeling": "Remodeling",
    "handyman": "Handyman",
    "garage-doors": "Garage doors",
    "windows-doors": "Windows and doors",
    "appliance-repair": "Appliance repair",
    "pool-service": "Pool service",
    "solar": "Solar",
    "gutters": "Gutters",
    "pressure-washing": "Pressure washing",
    "moving": "Moving",
    "home-inspection": "Home inspection",
    "locksmith": "Locksmith",
    "fencing": "Fencing",
    "concrete": "Concrete",
    "water-damage": "Water damage restoration",
    "insulation": "Insulation",
    "chimney": "Chimney sweep",
}

# Pairs of trades that compete for the same jobs (each pair works both ways).
COMPETING: list[tuple[str, str]] = [
    ("handyman", "painting"),
    ("handyman", "flooring"),
    ("handyman", "remodeling"),
    ("handyman", "appliance-repair"),
    ("handyman", "gutters"),
    ("handyman", "fencing"),
    ("remodeling", "flooring"),
    ("remodeling", "painting"),
    ("remodeling", "windows-doors"),
    ("landscaping", "tree-service"),
    ("landscaping", "fencing"),
    ("landscaping", "concrete"),
    ("carpet-cleaning", "house-cleaning"),
    ("carpet-cleaning", "water-damage"),
    ("pressure-washing", "house-cleaning"),
    ("pressure-washing", "gutters"),
    ("roofing", "gutters"),
    ("roofing", "solar"),
    ("hvac", "insulation"),
    ("electrical", "solar"),
    ("plumbing", "water-damage"),
    ("garage-doors", "windows-doors"),
]


def seed_trades(session: Session) -> int:
    """Insert missing trades and, for new trades, their competition pairs.

    Returns how many trades were added."""
    existing = {t.slug: t for t in session.exec(select(Trade)).all()}
    added = {}
    for slug, name in TRADES.items():
        if slug not in existing:
            trade = Trade(slug=slug, name=name)
            session.add(trade)
            added[slug] = trade
    if not added:
        return 0
    session.flush()
    by_slug = existing | added
    for first, second in COMPETING:
        if first in added or second in added:
            a, b = by_slug[first], by_slug[second]
            session.add(TradeCompetition(trade_id=a.id, competitor_id=b.id))
            session.add(TradeCompetition(trade_id=b.id, competitor_id=a.id))
    session.flush()
    return len(added)
