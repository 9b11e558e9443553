"""The baseline: a bare Flask app doing the least work that answers the same
requests (a JSON document like /api/v1/me; a Jinja page like the home page)."""

from __future__ import annotations

from flask import Flask, render_template_string

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><header><a href="/">Referral</a><nav>
{% for link in links %}<a href="{{ link }}">{{ link }}</a>{% endfor %}
</nav></header>
<main><h1>{{ title }}</h1><section>
{% for card in cards %}<a href="#"><h2>{{ card }}</h2><p>{{ card }} text</p></a>{% endfor %}
</section></main>
</body></html>"""

BUSINESS = {
    "id": 1,
    "name": "Bench HVAC",
    "trade": {"slug": "hvac", "name": "HVAC"},
    "zip_code": "78701",
    "radius_miles": 25,
    "description": "",
    "phone": "",
    "website": "",
}


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/api/v1/me")
    def me() -> dict[str, object]:
        return {"business": BUSINESS, "api_key": {"name": "bench", "prefix": "rk_live_bench000"}}

    @app.get("/")
    def home() -> str:
        return render_template_string(
            PAGE,
            title="Bench HVAC",
            links=["/partners", "/partnerships", "/notifications"],
            cards=["Profile", "Team", "API keys"],
        )

    return app
