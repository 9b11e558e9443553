"""The events bench/webhooks.py sends (its --peer comparison sends them to
Referral, the bare app and dj-stripe alike): each padded event is the size
asked for, a customer.created Stripe would send, within Stripe's metadata
limits, creates a customer of its own, and is signed so that stripe-python
accepts it. No timing here: speed is the benchmark's to report."""

from __future__ import annotations

import json
from pathlib import Path

import stripe

from bench.peer_djstripe import PeerIntake
from bench.webhooks import PADDED_EVENT_BYTES, SignedEvents, padded_customer_event


def test_a_padded_event_is_a_customer_created_event_of_the_size_asked_for() -> None:
    body = padded_customer_event("evt_app1a2b3c_10000", 1_796_000_000, PADDED_EVENT_BYTES)

    assert abs(len(body) - PADDED_EVENT_BYTES) < 50
    event = json.loads(body)
    assert (event["id"], event["type"], event["created"]) == (
        "evt_app1a2b3c_10000",
        "customer.created",
        1_796_000_000,
    )
    customer = event["data"]["object"]
    assert customer["object"] == "customer"
    assert customer["email"] == "cus_app1a2b3c10000@bench.example.com"


def test_padded_events_keep_to_stripes_metadata_limits() -> None:
    customer = json.loads(padded_customer_event("evt_x_1", 0, PADDED_EVENT_BYTES))["data"]["object"]

    metadata = customer["metadata"]
    assert len(metadata) <= 50
    assert all(isinstance(value, str) and len(value) <= 500 for value in metadata.values())


def test_each_event_creates_a_customer_of_its_own() -> None:
    customers = {
        json.loads(padded_customer_event(f"evt_{tag}_{n}", 0, 2_000))["data"]["object"]["id"]
        for tag in ("app1a", "peer2b")
        for n in range(50)
    }

    assert len(customers) == 100


def test_signed_padded_events_pass_stripes_own_signature_check(tmp_path: Path) -> None:
    stream = SignedEvents("whsec_test", "peer1a", tmp_path, per_round=10, size=PADDED_EVENT_BYTES)

    headers, body = stream.request(7)

    assert stripe.WebhookSignature.verify_header(
        body.decode(), headers["Stripe-Signature"], "whsec_test", tolerance=300
    )
    assert json.loads(body)["id"] == "evt_peer1a_7"


def test_the_peer_is_consistent_only_when_every_200_answer_was_processed() -> None:
    processed = PeerIntake({}, answered_200=120, processed=120, events=120, customers=120)
    assert processed.consistent

    one_short = PeerIntake({}, answered_200=120, processed=119, events=119, customers=119)
    assert not one_short.consistent

    an_unanswered_api_call = PeerIntake(
        {}, answered_200=120, processed=120, events=120, customers=120, unanswered_calls=1
    )
    assert not an_unanswered_api_call.consistent
