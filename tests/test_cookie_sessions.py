"""The session cookie: signed with the secret key, still read under a key being
rotated out (SECRET_KEY_FALLBACKS), refused when tampered with or signed with
a key no longer listed."""

from __future__ import annotations

from flask import Flask, session
from werkzeug.test import Client


def _with_session_probe(app: Flask) -> Flask:
    @app.get("/_session/remember/<word>")
    def remember(word: str) -> str:
        session["word"] = word
        return "ok"

    @app.get("/_session")
    def recall() -> str:
        return str(session.get("word", "nothing"))

    @app.get("/_session/forget")
    def forget() -> str:
        session.clear()
        return "ok"

    return app


def _cookie(client: Client, app: Flask) -> str:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return cookie.value


def test_a_request_without_the_cookie_gets_an_empty_session_and_no_cookie(app: Flask) -> None:
    client = _with_session_probe(app).test_client()

    assert client.get("/_session").get_data(as_text=True) == "nothing"
    assert client.get_cookie(app.config["SESSION_COOKIE_NAME"]) is None


def test_the_session_comes_back_signed_and_a_tampered_cookie_is_ignored(app: Flask) -> None:
    client = _with_session_probe(app).test_client()
    client.get("/_session/remember/plumbing")
    assert client.get("/_session").get_data(as_text=True) == "plumbing"

    payload, _, signature = _cookie(client, app).rpartition(".")
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], payload + "." + signature[::-1])

    assert client.get("/_session").get_data(as_text=True) == "nothing"


def test_rotating_the_secret_key_keeps_sessions_signed_with_a_fallback_key(app: Flask) -> None:
    client = _with_session_probe(app).test_client()
    client.get("/_session/remember/hvac")
    old_key = app.config["SECRET_KEY"]

    app.secret_key = app.config["SECRET_KEY"] = "a new secret key for the rotation"
    app.config["SECRET_KEY_FALLBACKS"] = [old_key]
    assert client.get("/_session").get_data(as_text=True) == "hvac"

    app.config["SECRET_KEY_FALLBACKS"] = []  # the old key is retired
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], _signed_with(app, old_key))
    assert client.get("/_session").get_data(as_text=True) == "nothing"


def _signed_with(app: Flask, key: str) -> str:
    """A session cookie as the app signed it under `key`."""
    current = app.secret_key
    app.secret_key = key
    try:
        serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        return str(serializer.dumps({"word": "hvac"}))
    finally:
        app.secret_key = current


def test_a_response_varies_on_the_cookie_only_when_the_session_was_read(app: Flask) -> None:
    client = _with_session_probe(app).test_client()

    assert "Cookie" not in client.get("/api/v1/me").vary  # API calls never read it
    assert "Cookie" in client.get("/_session").vary


def test_a_session_emptied_deletes_its_cookie(app: Flask) -> None:
    client = _with_session_probe(app).test_client()
    client.get("/_session/remember/plumbing")

    forgotten = client.get("/_session/forget")

    assert "Cookie" in forgotten.vary
    assert forgotten.headers["Set-Cookie"].startswith(f"{app.config['SESSION_COOKIE_NAME']}=;")
    assert client.get_cookie(app.config["SESSION_COOKIE_NAME"]) is None
