"""Email is rendered from what its caller passes, not from the pages' context:
the same in a signed-in request as in a job."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask, g, render_template
from jinja2 import meta

from referral.mail.services import _render

EMAILS = sorted(path.name for path in (Path(__file__).parents[2] / "templates/emails").iterdir())


class Given(str):
    """A value for any name an email asks for, with any attribute it reads
    (a time for a name ending in _at)."""

    def __getattr__(self, name: str) -> str:
        if name.startswith("__"):
            raise AttributeError(name)
        return "2026-01-02T03:04:05+00:00" if name.endswith("_at") else Given(f"{self}.{name}")


@pytest.mark.parametrize("name", EMAILS)
def test_no_email_reads_the_pages_context(app: Flask, name: str) -> None:
    source = app.jinja_env.loader.get_source(app.jinja_env, f"emails/{name}")[0]  # type: ignore[union-attr]
    asked = meta.find_undeclared_variables(app.jinja_env.parse(source))
    context = {variable: Given(variable) for variable in asked if variable not in PAGE_CONTEXT}
    with app.test_request_context("/"):
        g.user = SimpleNamespace(name="Signed-in Sam", email="sam@example.com")
        g.business = SimpleNamespace(name="Sam's Plumbing", id=1)
        g.unread_notifications = 3
        as_a_page = render_template(f"emails/{name}", **context)
        assert _render(f"emails/{name}", context) == as_a_page


# What the pages' context processors give a template.
PAGE_CONTEXT = {"current_user", "current_business", "mail_outbox_enabled", "unread_notifications"}
