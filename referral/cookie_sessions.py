"""Flask's signed-cookie sessions, without their per-request set-up.

Flask builds the session's signing serializer on every request, before it even
looks for a session cookie. Here it is built once per set of keys, and not
at all for a request without the cookie (API calls, health checks, a first
visit): a few percent of such a request's CPU. Saving a session that was
never read nor changed returns at once, before Flask works out the cookie's
name, domain, path and flags (4% of `GET /healthz`).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from itsdangerous import URLSafeTimedSerializer


class SignedCookieSessions(SecureCookieSessionInterface):
    def __init__(self) -> None:
        # One serializer per set of keys: a rotation (SECRET_KEY_FALLBACKS) adds one.
        self._serializers: dict[tuple[Any, ...], URLSafeTimedSerializer] = {}

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not app.secret_key:
            return None  # Flask's answer: sessions are unavailable
        if not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.modified and not session.accessed:
            return  # no cookie to set or delete, no `Vary: Cookie`: as Flask would end
        super().save_session(app, session, response)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        # The current key last, as itsdangerous expects (Flask's own order).
        keys = (*(app.config.get("SECRET_KEY_FALLBACKS") or ()), app.secret_key)
        if keys not in self._serializers:
            self._serializers[keys] = URLSafeTimedSerializer(
                list(keys),
                salt=self.salt,
                serializer=self.serializer,
                signer_kwargs={
                    "key_derivation": self.key_derivation,
                    "digest_method": self.digest_method,
                },
            )
        return self._serializers[keys]
