"""A Referral webhook receiver: verifies each event, prints the referrals it gets.

pip install flask standardwebhooks
WEBHOOK_SECRET=whsec_... PORT=8000 python webhook_receiver.py
"""

import os

from flask import Flask, abort, request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

app = Flask(__name__)
webhook = Webhook(os.environ["WEBHOOK_SECRET"])
handled: set[str] = set()  # webhook-ids already handled: keep them in your database


@app.post("/webhooks/referral")
def receive():  # type: ignore[no-untyped-def]
    try:
        event = webhook.verify(request.get_data(), dict(request.headers))
    except WebhookVerificationError:
        abort(400)  # not from Referral, or altered on the way
    if request.headers["webhook-id"] in handled:
        return "", 204  # a retry of an event already handled
    handled.add(request.headers["webhook-id"])
    data = event["data"]
    if event["type"] == "referral.received":
        print(
            f"New referral {data['referral_id']} from business {data['sender_id']}:"
            f" GET {data['url']} for the need (and, once accepted, the contact)",
            flush=True,
        )
    else:
        print(f"{event['type']}: {data}", flush=True)
    return "", 204


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
