"""The webhook pages: owners and managers add, see, test and delete endpoints;
bad URLs are field errors; another business's endpoint does not exist."""

from __future__ import annotations

import re
import socket

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.events.models import EndpointStatus, WebhookEndpoint
from tests.support.factories import SignedIn, make_user, sign_in
from tests.support.jobs import run_jobs
from tests.support.webhook_receiver import Receiver


def _add(owner: SignedIn, url: str, types: list[str] | None = None):  # type: ignore[no-untyped-def]
    return owner.client.post_form(  # type: ignore[attr-defined]
        "/settings/webhooks",
        {"url": url, "event_types": types or ["referral.received", "referral.won"]},
        page="/settings/webhooks",
    )


def test_an_owner_adds_an_endpoint_sends_a_test_event_and_sees_it_in_the_log(
    app: Flask, db: Session, owner_a: SignedIn, receiver: Receiver
) -> None:
    added = _add(owner_a, receiver.url)
    assert added.status_code == 302
    page_url = added.headers["Location"]
    page = owner_a.client.get(page_url).get_data(as_text=True)  # type: ignore[attr-defined]
    secret = re.search(r'id="endpoint-secret">(whsec_[^<]+)<', page)
    assert secret, page
    receiver.secret = secret.group(1)

    tested = owner_a.client.post_form(f"{page_url}/test", {}, page=page_url)  # type: ignore[attr-defined]
    assert tested.status_code == 302
    run_jobs(app)

    assert receiver.types() == ["webhook.test"]
    log = owner_a.client.get(page_url).get_data(as_text=True)  # type: ignore[attr-defined]
    assert "webhook.test" in log and "Delivered" in log and "200" in log


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("not a url", "https://example.com/webhooks"),
        ("ftp://files.example.com/in", "https only"),
        ("https://10.1.2.3/hooks", "private address"),
        ("https://[::1]/hooks", "loopback"),
        ("https://metadata.attacker.example/hooks", "metadata"),
    ],
)
def test_a_url_that_may_not_receive_webhooks_is_a_field_error(
    app: Flask,
    db: Session,
    owner_a: SignedIn,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    why: str,
) -> None:
    app.config["WEBHOOK_ALLOW_LOOPBACK"] = False
    real = socket.getaddrinfo

    def dns(host: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host == "metadata.attacker.example":  # a name that resolves to the metadata service
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", dns)
    response = _add(owner_a, url)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="url-error"' in html and why in html
    assert db.exec(select(WebhookEndpoint)).all() == []


def test_staff_cannot_manage_webhooks_and_another_business_sees_none(
    app: Flask, db: Session, owner_a: SignedIn, owner_b: SignedIn, receiver: Receiver
) -> None:
    added = _add(owner_a, receiver.url)
    page_url = added.headers["Location"]
    staff = sign_in(app, make_user(db, owner_a.business, role="staff"))
    assert staff.get("/settings/webhooks").status_code == 302
    assert owner_b.client.get(page_url).status_code == 404  # type: ignore[attr-defined]
    deleted = owner_b.client.post_form(f"{page_url}/delete", {}, page="/settings/webhooks")  # type: ignore[attr-defined]
    assert deleted.status_code == 404
    manager = sign_in(app, make_user(db, owner_a.business, role="manager"))
    assert manager.get(page_url).status_code == 200

    gone = owner_a.client.post_form(f"{page_url}/delete", {}, page=page_url)  # type: ignore[attr-defined]
    assert gone.status_code == 302
    assert db.exec(select(WebhookEndpoint.status)).one() == EndpointStatus.deleted
    assert owner_a.client.get(page_url).status_code == 404  # type: ignore[attr-defined]
