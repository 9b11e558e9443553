"""The baseline: a bare Flask app answering the benchmarked requests with the least work.

It has no database, no extensions and no authentication, but it answers with
documents of the same shape and size as Referral's, through the same Flask
machinery:

- `GET /api/v1/me`: the JSON document Referral's /me returns (a business with
  its trade, and the API key), serialised by Flask's JSON provider.
- `GET /`: the logged-in home page, rendered by Jinja from templates with the
  same layout as Referral's (a base layout, an included nav, a page block,
  `url_for` for every link), loaded once and cached like any Flask template.
- `GET /healthz`: `{"status": "ok"}` (Referral's also runs `SELECT 1`).
- `POST /api/v1/referrals`: reads the JSON body and answers 201 with a
  referral document of the same keys and size as Referral's (which writes
  the referral, its event, the consent request and the email to the customer).

    gunicorn 'bench.bare_app:create_app()'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Flask, render_template, request
from jinja2 import DictLoader

ROOT = Path(__file__).resolve().parents[1]

BASE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{% block title %}Referral{% endblock %} · Referral</title>
  <link rel="icon" href="{{ url_for('static', filename='img/favicon.svg') }}" type="image/svg+xml">
  <link rel="stylesheet" href="{{ url_for('static', filename='css/app.css') }}">
  <script src="{{ url_for('static', filename='js/app.js') }}" defer></script>
  <script src="{{ url_for('static', filename='js/live.js') }}" defer></script>
</head>
<body>
  <a class="skip-link" href="#main">Skip to content</a>
  <header class="topbar">
    <a class="brand" href="{{ url_for('home') }}">Referral</a>
    <button type="button" class="menu-toggle secondary" aria-expanded="false"
      aria-controls="menu" hidden>Menu</button>
    <div class="menu" id="menu">
      <nav aria-label="Main">
{% include "_nav.html" %}
      </nav>
      <div class="account">
        <span class="who">{{ user.name }} · {{ business.name }}</span>
        <form method="post" action="{{ url_for('logout') }}" class="inline">
          <input type="hidden" name="csrf_token" value="{{ form_token }}">
          <button type="submit" class="link">Log out</button>
        </form>
        <a href="{{ url_for('outbox') }}">Outbox</a>
      </div>
    </div>
  </header>
  <main id="main" tabindex="-1">
    {% for category, message in messages %}
      <p class="flash flash-{{ category }}">{{ message }}</p>
    {% endfor %}
    {% block content %}{% endblock %}
  </main>
</body>
</html>
"""

NAV = """<a href="{{ url_for('dashboard') }}" aria-current="page">Dashboard</a>
<a href="{{ url_for('discover') }}">Find partners</a>
<a href="{{ url_for('partnerships') }}">Partnerships</a>
<a href="{{ url_for('customers') }}">Customers</a>
<a href="{{ url_for('offers') }}">Offers</a>
<a href="{{ url_for('campaigns') }}">Campaigns</a>
<a href="{{ url_for('received') }}">Received</a>
<a href="{{ url_for('sent') }}">Sent</a>
<a href="{{ url_for('notifications') }}">Notifications
  {%- if unread %} <span class="badge">{{ unread }}</span>{% endif %}</a>
<a href="{{ url_for('leads') }}">Leads</a>
<a href="{{ url_for('commissions') }}">Commissions</a>
<a href="{{ url_for('payments') }}">Payments</a>
"""

HOME = """{% extends "base.html" %}
{% block title %}Home{% endblock %}
{% block content %}
<h1>{{ business.name }}</h1>
{% if not user.email_verified %}
  <p class="flash flash-warning">Please verify your email address.</p>
{% endif %}
{% if steps %}
<section class="card" id="first-steps" aria-labelledby="first-steps-title">
  <h2 id="first-steps-title">First steps</h2>
  <p class="muted">{{ steps|selectattr("done")|list|length }} of {{ steps|length }} done.
    Your first partner's referral is a few minutes away.</p>
  <ol class="steps">
    {% for step in steps %}
    <li class="{{ 'done' if step.done else 'todo' }}" id="step-{{ step.key }}">
      {% if step.done %}<span aria-hidden="true">✓</span> <s>{{ step.label }}</s>
        <span class="visually-hidden">(done)</span>
      {% else %}<a href="{{ url_for(step.endpoint) }}">{{ step.label }}</a>{% endif %}
    </li>
    {% endfor %}
  </ol>
</section>
{% endif %}
<section class="grid">
  <a class="card" href="{{ url_for('profile') }}"><h2>Profile</h2>
    <p>Your trade, service area and how partners reach you.</p></a>
  <a class="card" href="{{ url_for('team') }}"><h2>Team</h2>
    <p>Invite owners, managers and staff.</p></a>
  <a class="card" href="{{ url_for('customers') }}"><h2>Customers</h2>
    <p>Your customers, their jobs and lifetime value.</p></a>
  <a class="card" href="{{ url_for('audit') }}"><h2>Audit trail</h2>
    <p>Who opened your customers' details.</p></a>
  <a class="card" href="{{ url_for('api_keys') }}"><h2>API keys</h2>
    <p>Connect your own tools to the REST API.</p></a>
  <a class="card" href="{{ url_for('webhooks') }}"><h2>Webhooks</h2>
    <p>Tell your own tools what happens, as it happens.</p></a>
</section>
{% endblock %}
"""


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    endpoint: str
    done: bool


def first_steps(
    *, verified: bool, partnered: bool, customers: bool, paid: bool, pays: bool
) -> list[Step]:
    """Referral's home-page checklist (referral/onboarding.py), as plain data."""
    return [
        Step("verify", "Confirm your email address", "verify", verified),
        Step("profile", "Complete your profile (description and phone)", "profile", True),
        Step("partner", "Find a partner and propose terms", "discover", partnered),
        Step("connect", "Connect Stripe to get paid", "payments", paid),
        Step("card", "Add a card to pay commissions you owe", "payments", pays),
        Step(
            "customers",
            "Add your customers, or import them from a CSV file",
            "customers",
            customers,
        ),
    ]


# The seeded business's checklist: verified, with a profile, nothing else yet.
STEPS = first_steps(verified=True, partnered=False, customers=False, paid=False, pays=False)

BUSINESS = {
    "id": 1,
    "name": "Bench HVAC",
    "trade": {"name": "HVAC", "slug": "hvac"},
    "zip_code": "78701",
    "radius_miles": 25,
    "description": "Heating and cooling for central Austin.",
    "phone": "+15125550100",
    "website": "https://bench-hvac.example.com",
}
API_KEY = {
    "name": "bench",
    "prefix": "rk_live_0a1b2c3d",
    "created_at": "2026-01-01T00:00:00.000000+00:00",
    "last_used_at": "2026-01-01T00:00:00.000000+00:00",
}
USER = {"name": "Bench Owner", "email_verified": True}
# A referral just sent, as Referral's POST /api/v1/referrals answers it; the
# ids and the need come from the request.
REFERRAL = {
    "accepted_at": None,
    "consent_method": "email_link",
    "created_at": "2026-01-01T00:00:00.000000+00:00",
    "customer": {
        "address": "",
        "email": "customer-1@bench.example.com",
        "name": "Customer 1",
        "phone": "+15125550001",
        "zip_code": "78701",
    },
    "job_date": None,
    "job_value_cents": None,
    "partnership_id": 1,
    "respond_by": None,
    "sender_id": 1,
    "sent_at": None,
    "status": "awaiting_consent",
    "terms_version_id": 1,
}
# As long as the CSRF token Referral's page carries in its logout form.
FORM_TOKEN = "Ij" + "A" * 78 + ".aaaaaa." + "b" * 27

# Where the page links to; the bare app only needs them to exist for url_for.
LINKS = {
    "dashboard": "/analytics",
    "discover": "/partners",
    "partnerships": "/partnerships",
    "customers": "/customers",
    "offers": "/offers",
    "campaigns": "/campaigns",
    "received": "/referrals/inbox",
    "sent": "/referrals/outbox",
    "notifications": "/notifications",
    "leads": "/leads",
    "commissions": "/commissions",
    "payments": "/payments",
    "profile": "/business/profile",
    "verify": "/verify/resend",
    "team": "/team",
    "audit": "/audit",
    "api_keys": "/settings/api-keys",
    "webhooks": "/settings/webhooks",
    "outbox": "/dev/outbox",
}


def _elsewhere() -> tuple[str, int]:
    return "", 204


def create_app() -> Flask:
    app = Flask(__name__, static_folder=str(ROOT / "static"))
    app.jinja_loader = DictLoader({"base.html": BASE, "_nav.html": NAV, "home.html": HOME})

    @app.get("/api/v1/me")
    def me() -> dict[str, object]:
        return {"business": BUSINESS, "api_key": API_KEY}

    @app.get("/")
    def home() -> str:
        return render_template(
            "home.html",
            business=BUSINESS,
            user=USER,
            unread=0,
            messages=[],
            form_token=FORM_TOKEN,
            steps=STEPS,
        )

    @app.post("/api/v1/referrals")
    def send_referral() -> tuple[dict[str, object], int]:
        data = request.get_json()
        return {
            **REFERRAL,
            "id": data["customer_id"],
            "receiver_id": data["partner_id"],
            "need": data["need"],
            "urgency": data["urgency"],
            "preferred_contact_time": data["preferred_contact_time"],
        }, 201

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for endpoint, path in LINKS.items():
        app.add_url_rule(path, endpoint=endpoint, view_func=_elsewhere)
    app.add_url_rule("/logout", endpoint="logout", view_func=_elsewhere, methods=["POST"])
    return app
