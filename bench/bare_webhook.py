"""The bare Flask app of bench/bare_app.py plus a Stripe webhook endpoint doing the least work.

`POST /stripe/webhook` reads the raw body, parses it as JSON (any webhook
receiver must) and answers 200 with the document Referral answers,
`{"received": true, "duplicate": false}`. It verifies no signature and stores
nothing: that is the work Referral's endpoint is measured doing.

    gunicorn 'bench.bare_webhook:create_app()'
"""

from __future__ import annotations

import json

from flask import Flask, request

from bench import bare_app


def create_app() -> Flask:
    app = bare_app.create_app()

    @app.post("/stripe/webhook")
    def stripe_webhook() -> tuple[dict[str, object], int]:
        event = json.loads(request.get_data(cache=False))
        return {"received": True, "duplicate": not event["id"]}, 200

    return app
