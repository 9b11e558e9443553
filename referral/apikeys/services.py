"""API keys: created by owners and managers, shown once, stored as a SHA-256."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from referral.apikeys.models import ApiKey
from referral.auth.models import User
from referral.auth.tokens import hash_token
from referral.db import utcnow
from referral.errors import NotFound

KEY_PREFIX = "rk_live_"


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    secret: str  # the whole key: shown to the user once, never stored


def create_api_key(*, session: Session, actor: User, name: str) -> IssuedKey:
    """A new key for the actor's business, named for what uses it.

    The key is `rk_live_<8 hex>_<43 random url-safe chars>`; its first part is
    kept as the prefix (to recognise it in the list) and the whole as SHA-256.
    """
    prefix = KEY_PREFIX + secrets.token_hex(4)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey(
        business_id=actor.business_id,
        created_by_id=actor.id,
        name=name,
        prefix=prefix,
        key_hash=hash_token(secret),
    )
    session.add(api_key)
    session.flush()
    return IssuedKey(api_key=api_key, secret=secret)


def list_api_keys(*, session: Session, business_id: int) -> list[ApiKey]:
    """The business's keys: active ones first, newest first."""
    return list(
        session.exec(
            select(ApiKey)
            .where(ApiKey.business_id == business_id)
            .order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())
        )
    )


def revoke_api_key(*, session: Session, business_id: int, key_id: int) -> ApiKey:
    """Revoke at once: the next call with it is refused. NotFound for another
    business's key."""
    api_key = session.get(ApiKey, key_id)
    if api_key is None or api_key.business_id != business_id:
        raise NotFound("No such API key.")
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
    return api_key
