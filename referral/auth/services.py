"""Accounts: sign-up, email verification, logging in and out, passwords, and teams.

Tokens handed out in links are random; only their SHA-256 is stored, each is
single-use and expires. Services flush; the request commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, update
from sqlmodel import Session, select

from referral.auth.models import Invitation, LoginSession, User, UserToken
from referral.auth.passwords import hash_password, needs_rehash, verify_password
from referral.auth.tokens import hash_token, new_token
from referral.businesses.models import Business
from referral.businesses.services import create_business
from referral.db import utcnow
from referral.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from referral.mail.services import queue_email

ROLES = ("owner", "manager", "staff")
VERIFY_EMAIL_FOR = dt.timedelta(hours=48)
RESET_PASSWORD_FOR = dt.timedelta(hours=1)
INVITATION_FOR = dt.timedelta(days=7)
LOGIN_SESSION_FOR = dt.timedelta(days=14)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _link(path: str) -> str:
    return f"{current_app.config['BASE_URL']}{path}"


def _email_taken(session: Session, email: str) -> bool:
    return session.exec(select(User.id).where(User.email == email)).first() is not None


def _duplicate_email() -> ValidationFailed:
    return ValidationFailed(
        "Some fields are not valid.",
        errors={"email": ["An account with this email already exists. Log in instead."]},
    )


# --- sign-up and verification ----------------------------------------------------------


def sign_up_business(*, session: Session, data: dict[str, Any]) -> User:
    """Create a business and its owner, and email the owner a verification link.
    Fails (ValidationFailed) on a taken email, unknown trade or ZIP code."""
    email = normalise_email(data["email"])
    if _email_taken(session, email):
        raise _duplicate_email()
    business = create_business(
        session=session,
        name=data["business_name"],
        trade=data["trade"],
        zip_code=data["zip_code"],
        radius_miles=data["radius_miles"],
    )
    owner = User(
        business_id=business.id,
        email=email,
        name=data["name"],
        role="owner",
        password_hash=hash_password(data["password"]),
        password_changed_at=utcnow(),
    )
    session.add(owner)
    session.flush()
    send_verification_email(session=session, user=owner)
    return owner


def _issue_token(session: Session, user: User, purpose: str, lifetime: dt.timedelta) -> str:
    assert user.id is not None
    raw, digest = new_token()
    session.add(
        UserToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=digest,
            sent_to=user.email,
            expires_at=utcnow() + lifetime,
        )
    )
    return raw


def _use_token(session: Session, raw: str, purpose: str) -> User:
    """The user a valid, unused, unexpired token belongs to; the token is spent.
    Fails with a DomainError otherwise."""
    token = session.exec(
        select(UserToken).where(
            UserToken.token_hash == hash_token(raw), UserToken.purpose == purpose
        )
    ).first()
    now = utcnow()
    if token is None:
        raise DomainError("This link is not valid. Ask for a new one.")
    if token.used_at is not None:
        raise DomainError("This link has already been used. Ask for a new one.")
    if token.expires_at <= now:
        raise DomainError("This link has expired. Ask for a new one.")
    user = session.get(User, token.user_id)
    if user is None or user.disabled_at is not None or user.email != token.sent_to:
        raise DomainError("This link is not valid. Ask for a new one.")
    token.used_at = now
    return user


def send_verification_email(*, session: Session, user: User) -> None:
    raw = _issue_token(session, user, "verify_email", VERIFY_EMAIL_FOR)
    queue_email(
        session,
        to=user.email,
        subject="Confirm your email address for Referral",
        template="verify_email",
        name=user.name,
        link=_link(f"/verify/{raw}"),
        hours=int(VERIFY_EMAIL_FOR.total_seconds() // 3600),
    )


def verify_email(*, session: Session, token: str) -> User:
    """Mark the email verified. Fails on a used, expired or unknown link."""
    user = _use_token(session, token, "verify_email")
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    return user


# --- logging in and out ---------------------------------------------------------------


@dataclass(frozen=True)
class NewLogin:
    user: User
    token: str  # goes into the signed session cookie; only its hash is stored


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    """The user these credentials belong to, or None. Takes as long for an
    unknown email as for a wrong password."""
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    if not verify_password(user.password_hash if user else None, password):
        return None
    assert user is not None
    if user.disabled_at is not None:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def start_login_session(*, session: Session, user: User, user_agent: str = "") -> NewLogin:
    assert user.id is not None
    raw, digest = new_token()
    now = utcnow()
    session.add(
        LoginSession(
            user_id=user.id,
            token_hash=digest,
            expires_at=now + LOGIN_SESSION_FOR,
            last_seen_at=now,
            user_agent=user_agent[:255],
        )
    )
    return NewLogin(user=user, token=raw)


def end_login_session(*, session: Session, token: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.token_hash == hash_token(token)))


def end_all_login_sessions(*, session: Session, user: User) -> None:
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))


# --- passwords ---------------------------------------------------------------------------


def request_password_reset(*, session: Session, email: str) -> None:
    """Email a reset link if an account has this email; say nothing either way."""
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    if user is None or user.disabled_at is not None:
        return
    raw = _issue_token(session, user, "reset_password", RESET_PASSWORD_FOR)
    queue_email(
        session,
        to=user.email,
        subject="Reset your Referral password",
        template="reset_password",
        name=user.name,
        link=_link(f"/password/reset/{raw}"),
        minutes=int(RESET_PASSWORD_FOR.total_seconds() // 60),
    )


def check_reset_token(*, session: Session, token: str) -> None:
    """Fails when the reset link cannot be used (without spending it)."""
    row = session.exec(
        select(UserToken).where(
            UserToken.token_hash == hash_token(token), UserToken.purpose == "reset_password"
        )
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise DomainError("This reset link is not valid any more. Ask for a new one.")


def reset_password(*, session: Session, token: str, new_password: str) -> User:
    """Set a new password from an emailed link. Every login session of the
    user ends, and other reset links stop working."""
    user = _use_token(session, token, "reset_password")
    _set_password(session, user, new_password)
    return user


def change_password(
    *, session: Session, user: User, current_password: str, new_password: str
) -> None:
    """Fails (ValidationFailed on current_password) when the current password is wrong."""
    if not verify_password(user.password_hash, current_password):
        raise ValidationFailed(
            "Some fields are not valid.",
            errors={"current_password": ["This is not your current password."]},
        )
    _set_password(session, user, new_password)


def _set_password(session: Session, user: User, new_password: str) -> None:
    now = utcnow()
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now
    end_all_login_sessions(session=session, user=user)
    session.execute(
        update(UserToken)
        .where(
            UserToken.user_id == user.id,
            UserToken.purpose == "reset_password",
            UserToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    queue_email(
        session,
        to=user.email,
        subject="Your Referral password was changed",
        template="password_changed",
        name=user.name,
        link=_link("/password/forgot"),
    )


# --- teams ---------------------------------------------------------------------------------


def _require_owner(actor: User) -> None:
    if actor.role != "owner":
        raise PermissionDenied("Only owners can manage the team.")


def team_members(*, session: Session, business_id: int) -> list[User]:
    return list(
        session.exec(
            select(User)
            .where(User.business_id == business_id, User.disabled_at.is_(None))
            .order_by(User.name)
        )
    )


def pending_invitations(*, session: Session, business_id: int) -> list[Invitation]:
    return list(
        session.exec(
            select(Invitation)
            .where(
                Invitation.business_id == business_id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
            .order_by(Invitation.id.desc())
        )
    )


def invite_member(*, session: Session, actor: User, email: str, role: str) -> Invitation:
    """Email an invitation to join the actor's business. Owners only; fails on
    a taken email or an invitation already waiting for it."""
    _require_owner(actor)
    email = normalise_email(email)
    if _email_taken(session, email):
        raise _duplicate_email()
    waiting = pending_invitations(session=session, business_id=actor.business_id)
    if any(i.email == email for i in waiting):
        raise ValidationFailed(
            "Some fields are not valid.",
            errors={"email": ["An invitation to this email is already waiting."]},
        )
    raw, digest = new_token()
    invitation = Invitation(
        business_id=actor.business_id,
        invited_by_id=actor.id,
        email=email,
        role=role,
        token_hash=digest,
        expires_at=utcnow() + INVITATION_FOR,
    )
    session.add(invitation)
    business = session.get(Business, actor.business_id)
    queue_email(
        session,
        to=email,
        subject=f"{actor.name} invited you to {business.name if business else ''} on Referral",
        template="invitation",
        inviter=actor.name,
        business=business,
        role=role,
        link=_link(f"/invitations/{raw}"),
        days=INVITATION_FOR.days,
    )
    session.flush()
    return invitation


def _own_invitation(session: Session, actor: User, invitation_id: int) -> Invitation:
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.business_id != actor.business_id:
        raise NotFound("No such invitation.")
    return invitation


def revoke_invitation(*, session: Session, actor: User, invitation_id: int) -> None:
    _require_owner(actor)
    invitation = _own_invitation(session, actor, invitation_id)
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = utcnow()


def open_invitation(*, session: Session, token: str) -> Invitation:
    """The invitation a link stands for. Fails when used, revoked or expired."""
    invitation = session.exec(
        select(Invitation).where(Invitation.token_hash == hash_token(token))
    ).first()
    if invitation is None or invitation.revoked_at is not None:
        raise DomainError("This invitation is not valid. Ask for a new one.")
    if invitation.accepted_at is not None:
        raise DomainError("This invitation has already been used. Log in instead.")
    if invitation.expires_at <= utcnow():
        raise DomainError("This invitation has expired. Ask for a new one.")
    return invitation


def accept_invitation(*, session: Session, token: str, name: str, password: str) -> User:
    """Join the business as a verified member (the email was proven by the link)."""
    invitation = open_invitation(session=session, token=token)
    if _email_taken(session, invitation.email):
        raise DomainError("An account with this email already exists. Log in instead.")
    now = utcnow()
    invitation.accepted_at = now
    user = User(
        business_id=invitation.business_id,
        email=invitation.email,
        name=name,
        role=invitation.role,
        password_hash=hash_password(password),
        email_verified_at=now,
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    return user


def _own_member(session: Session, actor: User, user_id: int) -> User:
    member = session.get(User, user_id)
    if member is None or member.business_id != actor.business_id or member.disabled_at:
        raise NotFound("No such team member.")
    return member


def _owners_left(session: Session, business_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(
                User.business_id == business_id, User.role == "owner", User.disabled_at.is_(None)
            )
        )
        or 0
    )


def change_role(*, session: Session, actor: User, user_id: int, role: str) -> User:
    """Owners change roles; the last owner cannot stop being one."""
    _require_owner(actor)
    member = _own_member(session, actor, user_id)
    if member.role == "owner" and role != "owner" and _owners_left(session, actor.business_id) < 2:
        raise DomainError("A business needs at least one owner. Make someone else owner first.")
    member.role = role
    return member


def remove_member(*, session: Session, actor: User, user_id: int) -> None:
    """Remove someone from the team: they can no longer log in, and their
    sessions end. Their past actions keep their name."""
    _require_owner(actor)
    member = _own_member(session, actor, user_id)
    if member.role == "owner" and _owners_left(session, actor.business_id) < 2:
        raise DomainError("A business needs at least one owner. Make someone else owner first.")
    member.disabled_at = utcnow()
    member.email = f"removed-{member.id}-{member.email}"[:254]  # frees the email for reuse
    end_all_login_sessions(session=session, user=member)
