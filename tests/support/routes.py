"""Every route of the app, what each takes, and how the sweeps fill and call it.

The sweeps walk `app.url_map` (pages and the API alike) and, for the API,
the OpenAPI spec that describes the same operations. A route is known to them
by its endpoint (listed below with the reason) or by its URL variables, each
filled with business B's objects from the world (tests/support/world.py). A
new route with a variable no sweep knows, or a public route not listed here,
fails the sweeps until someone says what it is.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from referral.analytics.views import FIGURES
from tests.support.world import TODAY, World

# The JSON statuses waiting pages poll (referral/live.py): no page, no stored text.
LIVE_STATUS = {
    "payments.status": "the payments page's, after a return from Stripe",
    "referrals.inbox_status": "the inbox's",
    "referrals.status": "a referral's, while the customer is asked",
    "leads.status": "a lead's, while the customer is asked",
    "leads.purchase_status": "a purchase's, while Stripe confirms the payment",
    "settlements.status": "a settlement's, while it is charged",
    "campaigns.status": "a campaign's progress, while it is sent",
    "follow_ups.status": "a follow-up rule's counts, while it runs",
}

# GET routes that answer with something other than a page (a file, JSON or a
# redirect), and what: the page sweeps and the browser walks skip them.
NOT_PAGES: dict[str, str] = {
    "static": "stylesheets, scripts and images",
    "docs.swagger_asset": "the API reference's scripts and styles",
    "api-docs.openapi_json": "the OpenAPI spec (JSON)",
    "home.health": "the load balancer's health check (JSON)",
    "analytics.export": "a figure's CSV",
    "settlements.statement_csv": "the statement's CSV",
    "customers.export": "the customers CSV",
    "referrals.export": "the referrals CSV",
    "commissions.export": "the commissions CSV",
    "settlements.export": "the settlements CSV",
    "auth.verify": "confirms the address and redirects home",
    "auth.resend_verification": "sends the verification email again and redirects",
    "payments.card_saved": "Stripe Checkout's return: redirects to the payments page",
    "payments.connect_return": "Stripe onboarding's return: redirects to the payments page",
    "payments.connect_refresh": "Stripe onboarding's refresh: redirects to a new onboarding link",
    "settlements.settlement_confirmed": "Stripe Checkout's return: redirects to the payments page",
    "customers.import_outcomes": "an import's outcomes CSV",
    "customers.import_status": "an import's progress (JSON)",
    **{endpoint: f"{what} live status (JSON)" for endpoint, what in LIVE_STATUS.items()},
}

# Routes anyone may use without signing in, and why.
PUBLIC: dict[str, str] = {
    "home.index": "the welcome page (a signed-in business sees its dashboard there)",
    "home.health": "the load balancer's health check",
    "static": "stylesheets, scripts and images",
    "businesses.signup": "signing up",
    "auth.logout": "logging out: without a login there is nothing to end",
    "auth.login": "logging in",
    "auth.forgot_password": "asking for a reset link",
    "auth.reset_password": "the emailed single-use reset link is the key",
    "auth.verify": "the emailed single-use verification link is the key",
    "auth.accept_invitation": "the emailed single-use invitation link is the key",
    "consent.ask": "the customer's emailed single-use link is the key",
    "consent.answer": "the customer's emailed single-use link is the key",
    "consent.withdraw": "the customer's signed withdrawal link is the key",
    "consent.receipt": "the customer's signed withdrawal link is the key",
    "consent.mine": "the customer's signed, expiring 'My consents' link is the key",
    "offers.landing": "the customer's signed personal offer link is the key",
    "offers.yes": "the customer's signed personal offer link is the key",
    "marketing.unsubscribe": "the signed unsubscribe link in a marketing email is the key",
    "marketing.confirm": "the customer's signed, expiring opt-in link is the key",
    "payments.stripe_webhook": "Stripe's calls: verified by signature, not by login",
    "payments.stripe_connect_webhook": "Stripe's Connect calls: verified by signature",
    "docs.swagger_ui": "the API reference: no data, only the spec",
    "docs.swagger_asset": "the API reference's scripts and styles",
    "api-docs.openapi_json": "the OpenAPI spec itself",
    "mail.outbox": "the dev outbox: exists only with MAIL_BACKEND=outbox, from loopback",
    "mail.show": "the dev outbox: exists only with MAIL_BACKEND=outbox, from loopback",
}

# What the public routes' variables hold: the world's emailed links (by the
# endpoint they belong to), or a file that exists.
PUBLIC_LINKS = {
    "consent.ask": "consent",
    "consent.answer": "consent",
    "consent.withdraw": "withdrawal",
    "consent.receipt": "withdrawal",
    "consent.mine": "my_consents",
    "offers.landing": "offer",
    "offers.yes": "offer",
    "marketing.unsubscribe": "unsubscribe",
    "marketing.confirm": "opt_in",
    "auth.accept_invitation": "invitation",
    "auth.reset_password": "reset",
    "auth.verify": "verify",
}
PUBLIC_FILES = {"static": "css/app.css", "docs.swagger_asset": "swagger-ui.css"}
# The dev outbox shows every email sent, whoever it is for: that is what it is
# for, on a developer's machine (see referral/mail/views.py).
SHOWS_EVERYONES_EMAIL = {"mail.outbox", "mail.show"}

# Routes that take another business on purpose: its public profile, and what A
# may decide about it (propose, block). A sees B's profile; nothing private.
DIRECTORY: dict[str, str] = {
    "businesses.profile": "B's public profile, as partner discovery shows it",
    "api_businesses.PublicBusiness": "B's public profile, as partner discovery shows it",
    "partnerships.propose": "proposing terms to B is how a partnership starts",
    "partnerships.block": "A hiding B from itself is A's own choice",
    "partnerships.unblock": "A's own choice, undoing a block",
    "api_partnerships.Block": "A hiding B from itself is A's own choice",
    "api_partnerships.Partnerships": "listing A's partnerships; proposing to B (by id)",
}

# Routes without a URL variable that write only the signed-in business's own
# data, with nothing in the request that names another business's object: the
# tenant sweep does not send them (it could only change A's own data).
ACTS_ON_OWN_BUSINESS: dict[str, str] = {
    "auth.change_password": "the signed-in user's own password",
    "auth.invite": "invites an email address to A's team",
    "auth.resend_verification": "emails the signed-in user's own verification link again",
    "businesses.edit_profile": "A's own profile",
    "customers.new": "adds a customer to A",
    "campaigns.new": "composes a campaign of A; its preview counts A's own customers",
    "api_campaigns.Campaigns": "creates a draft campaign of A",
    "api_campaigns.Preview": "counts A's own customers matching a segment",
    "follow_ups.new": "composes a follow-up rule of A; its preview merges A's own customer",
    "api_follow_ups.FollowUps": "creates a follow-up rule of A",
    "customers.import_csv": "uploads a file to import into A (an import of A's own)",
    "notifications.mark_read": "marks A's own notifications read",
    "apikeys.create": "issues an API key for A",
    "settlements.settle_now": "settles A's own partnerships",
    "payments.card": "starts Stripe Checkout to save A's card",
    "payments.connect": "starts A's Stripe onboarding",
    "api_businesses.MyBusiness": "A's own profile",
    "api_customers.Customers": "adds a customer to A",
    "webhooks.create": "adds a webhook endpoint to A",
    "offers.create": "publishes an offer of A's own",
    "api_offers.Offers": "publishes an offer of A's own",
    "api_webhooks.Endpoints": "adds a webhook endpoint to A",
    "api_customers.CustomerImports": "uploads a file to import into A (an import of A's own)",
}

# Variables that name no tenant object.
NON_TENANT_VARIABLES: dict[str, list[str]] = {
    "name": list(FIGURES),  # /analytics/<name>.csv: one of the signed-in business's figures
    "direction": ["inbox", "outbox"],  # /referrals/<direction>.csv: the business's own
}

# Routes here exist only for the platform's operator: for anyone else, every
# method answers 404 ("the operator pages do not exist for anyone else").
OPERATOR_PREFIX = "/operator/"

# Fields in a request body (forms and API) that name an object, and what the
# tenant sweep puts there: "probe" is each of B's objects of that kind; other
# values are A's own, so the request reaches the probed field.
BODY_IDS: dict[str, str] = {
    "customer_id": "probe",
    "partner_id": "A's partner",
    "trade_id": "a trade",
}

# What a form field holds when the sweeps post a page's form: plausible input,
# so that a view reaches its object rather than stopping at a missing field.
FORM: dict[str, str] = {
    "reason": "Sweep reason",
    "note": "Sweep note",
    "job_value": "1250",
    "job_date": TODAY.isoformat(),
    "refund": "10",
    "decision": "accept",
    "method": "saved_card",
    "outcome": "won",
    "role": "manager",
    "name": "Sweep",
    "answer": "yes",
    "description": "Sweep job",
    "amount": "100",
    "won_on": TODAY.isoformat(),
    "basis_they_refer_to_me": "percent",
    "rate_they_refer_to_me": "10",
    "basis_i_refer_to_them": "percent",
    "rate_i_refer_to_them": "10",
}

# Forms without a URL variable that name a customer in their body: posted once
# for each of B's customers (with A's own partner and a trade A may sell to).
FORM_PROBES: dict[str, dict[str, str]] = {
    "referrals.send": {
        "need": "Sweep need",
        "urgency": "this_week",
        "consent_method": "attested_phone",
        "attested_on": dt.date.today().isoformat(),
    },
    "leads.new": {
        "need": "Sweep need",
        "urgency": "this_week",
        "zip_code": "78701",
        "price": "50",
        "max_buyers": "1",
        "expires_in_days": "7",
        "consent_method": "attested_phone",
        "attested_on": dt.date.today().isoformat(),
    },
}

_VARIABLE = re.compile(r"<(?:[^:<>]+:)?(\w+)>")


@dataclass(frozen=True)
class Route:
    rule: Rule
    method: str

    @property
    def endpoint(self) -> str:
        return self.rule.endpoint

    @property
    def is_api(self) -> bool:
        return self.rule.rule.startswith("/api/v1/") and self.endpoint not in PUBLIC

    @property
    def is_operator(self) -> bool:
        return self.rule.rule.startswith(OPERATOR_PREFIX)

    @property
    def variables(self) -> list[str]:
        return _VARIABLE.findall(self.rule.rule)

    @property
    def tenant_variables(self) -> list[str]:
        """The variables that may name a business's object."""
        return [v for v in self.variables if v not in NON_TENANT_VARIABLES]

    @property
    def spec_path(self) -> str:
        return _VARIABLE.sub(r"{\1}", self.rule.rule)

    def url(self, values: Mapping[str, object]) -> str:
        return _VARIABLE.sub(lambda m: str(values[m.group(1)]), self.rule.rule)

    def __str__(self) -> str:
        return f"{self.method} {self.rule.rule} ({self.endpoint})"


def all_routes(app: Flask) -> list[Route]:
    """Every method of every rule (HEAD and OPTIONS are Werkzeug's own)."""
    return [
        Route(rule, method)
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]


class UnknownVariable(AssertionError):
    pass


def fillings(route: Route, world: World) -> Iterator[tuple[str, str]]:
    """(what, url) for each combination of B's objects the route's variables take."""
    choices = []
    for variable in route.variables:
        if variable in NON_TENANT_VARIABLES:
            choices.append([(variable, value, value) for value in NON_TENANT_VARIABLES[variable]])
        elif variable in world.objects:
            choices.append([(variable, what, value) for what, value in world.objects[variable]])
        else:
            raise UnknownVariable(
                f"{route}: no object of B's world for <{variable}>; add one to "
                "tests/support/world.py (or, if it names no tenant object, to "
                "NON_TENANT_VARIABLES in tests/support/routes.py)"
            )
    for combination in itertools.product(*choices):
        what = ", ".join(f"{name}={value} ({label})" for name, label, value in combination)
        yield what, route.url({name: value for name, _, value in combination})


def public_url(route: Route, world: World) -> str:
    """A public route's URL with a real link's token or a real file in it."""
    values: dict[str, object] = {}
    for variable in route.variables:
        if variable == "token":
            values[variable] = world.links[PUBLIC_LINKS[route.endpoint]]
        elif variable == "filename":
            values[variable] = PUBLIC_FILES[route.endpoint]
        elif variable == "email_id":
            values[variable] = 1
        else:
            raise UnknownVariable(f"{route}: no value for the public route's <{variable}>")
    return route.url(values)


# --- the OpenAPI spec ------------------------------------------------------------


def api_operations(app: Flask) -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, path with {variables}) -> the operation, for every operation in the spec."""
    spec = app.extensions["referral_api"].spec.to_dict()
    return {
        (method.upper(), path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    }


def spec_schemas(app: Flask) -> dict[str, Any]:
    return app.extensions["referral_api"].spec.to_dict()["components"]["schemas"]  # type: ignore[no-any-return]


def body_schema(operation: Mapping[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    return content.get("application/json", {}).get("schema")  # type: ignore[no-any-return]


def _resolve(schema: Mapping[str, Any], schemas: Mapping[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _resolve(schemas[schema["$ref"].rsplit("/", 1)[1]], schemas)
    if "allOf" in schema:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            merged = {**_resolve(part, schemas), **merged}
        return merged
    return dict(schema)


def id_fields(schema: Mapping[str, Any] | None, schemas: Mapping[str, Any]) -> set[str]:
    """The properties of a request body that name an object (`*_id`)."""
    if schema is None:
        return set()
    resolved = _resolve(schema, schemas)
    return {name for name in resolved.get("properties", {}) if name.endswith("_id")}


def example(schema: Mapping[str, Any], schemas: Mapping[str, Any], ids: Mapping[str, int]) -> Any:
    """A valid instance of a request schema: its required properties and those
    with an example, `ids` for the properties that name objects."""
    schema = _resolve(schema, schemas)
    if "example" in schema:
        return schema["example"]
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("default") is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object":
        required = set(schema.get("required", []))
        body = {}
        for name, prop in schema.get("properties", {}).items():
            if name in ids:
                body[name] = ids[name]
            elif name in required or "example" in _resolve(prop, schemas):
                body[name] = example(prop, schemas, ids)
        return body
    if kind == "array":
        return [example(schema.get("items", {}), schemas, ids)]
    if kind == "integer":
        value = schema.get("minimum", 100)
        return min(value, schema["maximum"]) if "maximum" in schema else value
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    if schema.get("format") == "date":
        return TODAY.isoformat()
    if schema.get("format") == "email":
        return "sweep@example.com"
    if schema.get("pattern") == r"^\d{5}$":
        return "78701"
    return "Sweep text"


# --- calling routes ------------------------------------------------------------------


class Caller:
    """Requests as one identity: a browser for pages (with its CSRF token on
    every form) and an API key for the API; either may be absent."""

    def __init__(
        self,
        browser: Any,
        *,
        api_key: str | None = None,
        base_url: str = "http://localhost",
    ) -> None:
        self.browser = browser
        self.api_key = api_key
        self.base_url = base_url
        self._csrf: tuple[str | None, str] | None = None  # (session cookie, its token)

    def _session_cookie(self) -> str | None:
        cookie = self.browser.get_cookie(self.browser.application.config["SESSION_COOKIE_NAME"])
        return None if cookie is None else cookie.value

    def csrf_token(self) -> str:
        """The token of the browser's session, fetched again when the session
        changed (logging out, for one, forgets it)."""
        if self._csrf is None or self._csrf[0] != self._session_cookie():
            html = self.open("/login").get_data(as_text=True)
            if 'name="csrf_token"' not in html:  # signed in: the login page sends us home
                html = self.open("/").get_data(as_text=True)
            match = re.search(r'name="csrf_token" value="([^"]+)"', html)
            assert match, "no CSRF token on the login page or the home page"
            self._csrf = (self._session_cookie(), match.group(1))
        return self._csrf[1]

    def open(self, url: str, **kwargs: Any) -> Any:
        """The response, read whole and closed (a file it sends is closed too)."""
        response = self.browser.open(url, base_url=self.base_url, **kwargs)
        response.get_data()
        response.close()
        return response

    def page(self, method: str, url: str, form: Mapping[str, str] | None = None) -> Any:
        if method == "GET":
            return self.open(url)
        data = {**FORM, **(form or {}), "csrf_token": self.csrf_token()}
        # Over HTTPS the CSRF check also wants the browser's same-origin Referer.
        return self.open(url, method=method, data=data, headers={"Referer": f"{self.base_url}/"})

    def api(self, method: str, url: str, body: Any = None, *, key: str | None = None) -> Any:
        headers = {}
        if key or self.api_key:
            headers["Authorization"] = f"Bearer {key or self.api_key}"
        return self.open(url, method=method, json=body, headers=headers)

    def call(self, route: Route, url: str, body: Any = None) -> Any:
        if route.is_api:
            return self.api(route.method, url, body)
        return self.page(route.method, url, body)
