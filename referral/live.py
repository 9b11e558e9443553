"""Live status: a page that waits for Stripe or the worker (a card being
saved, an account being confirmed, a payment, a consent answer, a new
referral) shows so, and static/js/live.js polls a small JSON status of what
it waits for; when the state changes the script fetches the page again and
puts its new content in place, without a reload. Without script the page
offers a reload link. Each domain's view answers its own status with
`status()`; templates/_live.html draws the waiting indicator."""

from __future__ import annotations

from flask import jsonify
from werkzeug.wrappers import Response


def status(state: str, *, done: bool) -> Response:
    """The JSON a waiting page polls: `state` changes whenever the page would
    show something else; `done` once there is nothing more to wait for."""
    response = jsonify(state=state, done=done)
    response.headers["Cache-Control"] = "no-store"
    return response
