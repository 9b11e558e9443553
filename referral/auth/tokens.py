"""Random tokens whose SHA-256 alone is stored."""

from __future__ import annotations

import hashlib
import secrets


def new_token(prefix: str = "") -> tuple[str, str]:
    """Return (the token to hand out once, the hash to store)."""
    raw = prefix + secrets.token_urlsafe(32)
    return raw, hash_token(raw)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()
