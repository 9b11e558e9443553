"""Who in a business's team may do what."""

from __future__ import annotations

from referral.errors import DomainError, PermissionDenied

# Owners and managers run the business's dealings (its profile, partnerships,
# leads, payments, API keys); staff may look and do the daily work.
MANAGING_ROLES = ("owner", "manager")


def require_role(
    role: str,
    allowed: tuple[str, ...],
    refusal: str,
    *,
    error: type[DomainError] = PermissionDenied,
) -> None:
    """Fails (`error`, PermissionDenied unless told, with `refusal` as its
    message) unless `role` is one of `allowed`."""
    if role not in allowed:
        raise error(refusal)
