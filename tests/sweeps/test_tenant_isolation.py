"""Business A, signed in or holding its API key, asks every route of the app for
business B's objects, with every method the route takes: each answers 404 (or
405), shows nothing of B's, and changes nothing in the database.

Besides the routes that take B's objects in their URL, the sweep sends B's
customers in the forms and API bodies that name a customer, puts B's ids in
the query strings that filter by partner or customer, and reads every page
and API listing without a URL object as A: none shows anything of B's.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlmodel import Session

from tests.support.factories import trade_id
from tests.support.routes import (
    ACTS_ON_OWN_BUSINESS,
    BODY_IDS,
    DIRECTORY,
    FORM_PROBES,
    PUBLIC,
    SHOWS_EVERYONES_EMAIL,
    Caller,
    Route,
    all_routes,
    api_operations,
    body_schema,
    example,
    fillings,
    id_fields,
    spec_schemas,
)
from tests.support.world import World, build_world
from tests.sweeps.fingerprint import Touch, changed_tables, fingerprint

# Query-string parameters that name an object, and which of B's objects go there.
QUERY_IDS = {"partner_id": "business_id", "partner": "business_id", "customer_id": "customer_id"}
# The pages that read one (the API's are found in the spec).
PAGE_QUERIES = {
    "referrals.send": "customer_id",
    "referrals.inbox": "partner",
    "referrals.outbox": "partner",
}
REFUSED = (404, 405)


class Sweep:
    """Sends A's requests and checks each: its status, that nothing of B's is
    in it, and that no table changed."""

    def __init__(self, app: Flask, world: World) -> None:
        self.world = world
        self.a = Caller(world.a_browser, api_key=world.a_key)
        self.engine = app.extensions["db_engine"]
        a_owner, a_business = world.a.owner.id, world.a.business_id
        # What A's own requests may change, and nothing else.
        self.touches = (
            Touch(
                "login_session",
                "last_seen_at",
                lambda row: row["user_id"] == a_owner,
                "A's login session notes when it was last seen (at most every 5 minutes)",
            ),
            Touch(
                "api_key",
                "last_used_at",
                lambda row: row["business_id"] == a_business,
                "A's API key notes when it was last used (at most every minute)",
            ),
        )
        self.before = fingerprint(self.engine, self.touches)
        self.failures: list[str] = []
        self.requests = 0

    def check(self, route: Route, what: str, response: Any, allowed: tuple[int, ...]) -> None:
        """`allowed`: the statuses allowed, or () for any answer below 500."""
        self.requests += 1
        where = f"{route} with {what}" if what else str(route)
        status = response.status_code
        if status >= 500 or (allowed and status not in allowed):
            said = response.json.get("message") if response.is_json else ""
            self.failures.append(f"{where}: answered {status} {said}, not {allowed or '< 500'}")
        shown = response.get_data(as_text=True) + " " + response.headers.get("Location", "")
        leaked = [secret for secret in self.world.secrets if secret in shown]
        if leaked:
            self.failures.append(f"{where}: showed B's {leaked}")
        after = fingerprint(self.engine, self.touches)
        if after != self.before:
            self.failures.append(f"{where}: changed {changed_tables(self.before, after)}")
            self.before = after


def test_business_a_reaches_nothing_of_business_b_on_any_route(app: Flask, db: Session) -> None:
    world = build_world(app, db)
    sweep = Sweep(app, world)
    a = sweep.a
    operations, schemas = api_operations(app), spec_schemas(app)
    # A's own objects, for the body fields a probe does not aim at.
    a_ids = {"partner_id": world.c.business_id, "trade_id": trade_id(db, "electrical")}

    for route in all_routes(app):
        operation = operations.get((route.method, route.spec_path), {}) if route.is_api else {}
        schema = body_schema(operation)
        unknown = id_fields(schema, schemas) - set(BODY_IDS)
        assert route.endpoint in DIRECTORY or not unknown, f"{route}: body names {unknown}"
        body = None if schema is None else example(schema, schemas, a_ids)

        if route.endpoint in PUBLIC:
            # Those with a variable take a link's token, not a login, as the key
            # (test_anonymous.py); the dev outbox shows everyone's email by design.
            readable = route.method == "GET" and not route.variables
            if readable and route.endpoint not in SHOWS_EVERYONES_EMAIL:
                sweep.check(route, "", a.call(route, route.rule.rule), ())
        elif route.is_operator:
            for what, url in fillings(route, world):
                sweep.check(route, what, a.call(route, url, body), REFUSED)
        elif route.endpoint in DIRECTORY:
            # Not sent otherwise: they change only A's own choices about B.
            if route.method == "GET":
                for what, url in fillings(route, world):
                    sweep.check(route, what, a.call(route, url), (200,))
        elif route.tenant_variables:
            for what, url in fillings(route, world):
                sweep.check(route, what, a.call(route, url, body), REFUSED)
        elif route.method == "GET":
            for what, url in fillings(route, world):
                sweep.check(route, what, a.call(route, url), ())
            for param in _query_ids(route, operation):
                for what, object_id in world.objects[QUERY_IDS[param]]:
                    url = f"{route.rule.rule}?{param}={object_id}"
                    sweep.check(route, f"?{param}={object_id} ({what})", a.call(route, url), ())
        elif route.endpoint in FORM_PROBES:
            for what, customer_id in world.objects["customer_id"]:
                form = {**FORM_PROBES[route.endpoint], **_strs(a_ids), "customer_id": customer_id}
                response = a.page(route.method, route.rule.rule, form)
                sweep.check(route, f"customer_id={customer_id} ({what})", response, (404,))
        elif route.is_api and "customer_id" in id_fields(schema, schemas):
            for what, customer_id in world.objects["customer_id"]:
                body = example(schema, schemas, {**a_ids, "customer_id": customer_id})  # type: ignore[arg-type]
                response = a.call(route, route.rule.rule, body)
                sweep.check(route, f"customer_id={customer_id} ({what})", response, (404,))
        elif route.endpoint not in ACTS_ON_OWN_BUSINESS:
            sweep.failures.append(
                f"{route}: unknown to the sweep. It takes no object in its URL: list it in "
                "tests/support/routes.py (PUBLIC, ACTS_ON_OWN_BUSINESS or FORM_PROBES)"
            )

    assert not sweep.failures, "\n".join(sweep.failures)
    assert sweep.requests > 300, sweep.requests


def test_business_b_itself_reaches_every_object_the_sweep_probes(app: Flask, db: Session) -> None:
    """The sweep means something only if the ids it sends are real: each route
    that reads an object answers B with its own objects, secrets included."""
    world = build_world(app, db)
    b = Caller(world.b_browser, api_key=world.b_key)
    seen: set[str] = set()
    unreached = []
    for route in all_routes(app):
        if route.method != "GET" or not route.tenant_variables or route.is_operator:
            continue
        if route.endpoint in PUBLIC or route.endpoint in DIRECTORY:
            continue
        statuses = []
        for _, url in fillings(route, world):
            response = b.call(route, url)
            statuses.append(response.status_code)
            shown = response.get_data(as_text=True)
            seen |= {secret for secret in world.secrets if secret in shown}
        if 200 not in statuses:
            unreached.append(f"{route}: {statuses}")

    assert not unreached, "\n".join(unreached)
    for what in ("Wren Halloway-sent", "Secret need won", "Secret dispute note by B"):
        assert what in seen
    for what in ("Wren Halloway-received", "Secret job description", "Hidden Lane accepted"):
        assert what in seen


def _strs(values: dict[str, int]) -> dict[str, str]:
    return {name: str(value) for name, value in values.items()}


def _query_ids(route: Route, operation: dict[str, Any]) -> list[str]:
    if not route.is_api:
        return [PAGE_QUERIES[route.endpoint]] if route.endpoint in PAGE_QUERIES else []
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    unknown = [n for n in names if n.endswith("_id") and n not in QUERY_IDS]
    assert not unknown, f"{route}: query parameters {unknown} not in QUERY_IDS"
    return [n for n in names if n in QUERY_IDS]


def test_the_sweep_walks_every_operation_of_the_openapi_spec(app: Flask) -> None:
    """The sweeps walk the URL map; the spec describes the same API operations,
    so its request bodies and query parameters are those the sweep fills."""
    walked = {(route.method, route.spec_path) for route in all_routes(app) if route.is_api}

    assert walked == set(api_operations(app))
