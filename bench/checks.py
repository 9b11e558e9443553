"""Before any load: each endpoint must answer each app with the real document.

A benchmark of a 404, a redirect to the login page or an error page would
measure the wrong thing quickly, so every endpoint is fetched once (without
following redirects) and its answer is checked for what a signed-in client
or an API client should get.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http.client import HTTPConnection
from http.cookies import SimpleCookie
from typing import Protocol

from bench.load import Stream
from bench.seed import BUSINESS_NAME, OWNER_NAME


class CheckFailed(RuntimeError):
    """An endpoint answered something other than what it is benchmarked for."""


@dataclass(frozen=True)
class Endpoint:
    label: str
    path: str
    kind: str  # "me" (JSON with an API key), "page" (signed-in HTML), "health" or "referral"
    target: float | None  # least throughput as a fraction of the bare app's
    # ... of the bare app doing the same SQL through the driver (`--baseline bare-sql`)
    sql_target: float | None = None
    method: str = "GET"
    status: int = 200  # what a success answers


@dataclass(frozen=True)
class Probe:
    status: int
    content_type: str
    body: bytes
    location: str
    new_cookie: str | None  # the session cookie's value when the response set one


class Server(Protocol):
    name: str
    url: str
    port: int

    def log_tail(self, lines: int = 30) -> str: ...


def fetch(
    port: int,
    path: str,
    headers: dict[str, str],
    cookie_name: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
) -> Probe:
    connection = HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        body = response.read()
        new_cookie = None
        for header in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            if cookie_name in jar and jar[cookie_name].value:
                new_cookie = jar[cookie_name].value
        return Probe(
            status=response.status,
            content_type=response.getheader("Content-Type", ""),
            body=body,
            location=response.getheader("Location", ""),
            new_cookie=new_cookie,
        )
    finally:
        connection.close()


def check_endpoint(
    server: Server,
    endpoint: Endpoint,
    headers: dict[str, str],
    *,
    cookie_name: str = "referral_session",
    stream: Stream | None = None,
) -> Probe:
    """Fetch the endpoint once (with the stream's next request, if it has one);
    raise CheckFailed saying what is wrong, else return it."""
    where = f"{endpoint.method} {endpoint.path} on the {server.name} app"
    body = None
    if stream is not None:
        extra, body = stream.request(stream.next_number)
        stream.next_number += 1
        headers = {**headers, **extra}
    try:
        probe = fetch(
            server.port, endpoint.path, headers, cookie_name, method=endpoint.method, body=body
        )
    except OSError as exc:
        raise CheckFailed(f"{where}: no answer ({exc})") from exc
    if probe.status != endpoint.status:
        raise CheckFailed(f"{where} answered {probe.status}: {_explain(probe, endpoint, server)}")
    if endpoint.kind == "page":
        _check_page(where, probe)
    else:
        _check_json(where, probe, endpoint)
    return probe


def _explain(probe: Probe, endpoint: Endpoint, server: Server) -> str:
    if probe.status == 404:
        return "the endpoint does not exist (yet); benchmark it once it is written."
    if probe.status in (301, 302, 303, 307, 308):
        if endpoint.kind == "page":
            return f"redirected to {probe.location}: the session cookie did not sign in."
        return f"redirected to {probe.location}."
    if probe.status == 401:
        return f"the API key was refused: {_message(probe)}"
    if probe.status >= 500:
        return f"server error. The app's log ends:\n{server.log_tail()}"
    return _message(probe)


def _message(probe: Probe) -> str:
    try:
        return str(json.loads(probe.body).get("message", ""))
    except (ValueError, AttributeError):
        return probe.body[:200].decode(errors="replace")


def _check_page(where: str, probe: Probe) -> None:
    if not probe.content_type.startswith("text/html"):
        raise CheckFailed(f"{where}: expected an HTML page, got {probe.content_type!r}")
    text = probe.body.decode(errors="replace")
    if BUSINESS_NAME not in text or OWNER_NAME not in text:
        raise CheckFailed(
            f"{where}: the page does not show the signed-in business and owner "
            f"({BUSINESS_NAME!r}, {OWNER_NAME!r}): not signed in?"
        )


def _check_json(where: str, probe: Probe, endpoint: Endpoint) -> None:
    if not probe.content_type.startswith("application/json"):
        raise CheckFailed(f"{where}: expected JSON, got {probe.content_type!r}")
    try:
        document = json.loads(probe.body)
    except ValueError as exc:
        raise CheckFailed(f"{where}: the body is not JSON ({exc})") from exc
    if endpoint.kind == "me":
        name = (document.get("business") or {}).get("name")
        if name != BUSINESS_NAME or "api_key" not in document:
            raise CheckFailed(
                f"{where}: expected the key's business {BUSINESS_NAME!r} and the key, "
                f"got {json.dumps(document)[:200]}"
            )
    elif endpoint.kind == "referral":
        if document.get("status") != "awaiting_consent" or not document.get("id"):
            raise CheckFailed(
                f"{where}: expected a new referral awaiting the customer's consent, "
                f"got {json.dumps(document)[:200]}"
            )
    elif document.get("status") != "ok":
        raise CheckFailed(f"{where}: expected {{'status': 'ok'}}, got {document!r}")
