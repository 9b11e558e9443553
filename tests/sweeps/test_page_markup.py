"""Every page of the app, as every kind of user sees it with a full world of
data, is a sound HTML document (tests/support/markup.py): a plain-text title,
nothing rendered outside <body>, unique ids, every form control labelled.

A GET route that renders HTML for nobody here fails the test unless it is
listed in NOT_PAGES (tests/support/routes.py) with the reason; a route whose
URL the world cannot fill fails it too (tests/support/routes.py says how to
add one)."""

from __future__ import annotations

from collections import defaultdict

from flask import Flask
from sqlmodel import Session

from referral.auth.models import User
from tests.support.factories import make_business, make_user, sign_in
from tests.support.jobs import run_jobs
from tests.support.markup import problems
from tests.support.routes import (
    NOT_PAGES,
    PUBLIC,
    Caller,
    Route,
    all_routes,
    fillings,
    public_url,
)
from tests.support.world import World, build_world


def _pages(app: Flask) -> list[Route]:
    return [
        route
        for route in all_routes(app)
        if route.method == "GET" and not route.is_api and route.endpoint not in NOT_PAGES
    ]


def _urls(route: Route, world: World) -> list[tuple[str, str]]:
    if route.endpoint in PUBLIC:
        return [("", public_url(route, world))]
    return list(fillings(route, world))


def _identities(app: Flask, db: Session, world: World) -> dict[str, Caller]:
    staff_id = next(i for what, i in world.objects["user_id"] if "staff" in what)
    staff = db.get(User, staff_id)
    assert staff is not None
    manager = make_user(db, world.b.business, email="manager@bravo.example", role="manager")
    operator = make_user(db, world.d.business, email="operator@delta.example", is_operator=True)
    newcomer = make_business(db, name="Echo Gardens", trade="landscaping", zip_code="78745")
    unverified = make_user(db, newcomer, email="owner@echo.example", verified=False)
    return {
        "anonymous": Caller(app.test_client()),
        "B's owner": Caller(world.b_browser),
        "B's manager": Caller(sign_in(app, manager)),
        "B's staff member": Caller(sign_in(app, staff)),
        "the operator": Caller(sign_in(app, operator)),
        "a new business's unverified owner": Caller(sign_in(app, unverified)),
    }


def test_every_page_is_a_sound_html_document_for_everyone(app: Flask, db: Session) -> None:
    world = build_world(app, db)
    # B proposing to a business it has no partnership with (A) renders the form.
    world.add("business_id", "A, no partner of B", world.a.business_id)
    identities = _identities(app, db, world)
    run_jobs(app, allow_failures=True)  # the emails, for the outbox pages
    rendered: dict[str, int] = defaultdict(int)
    failures = []
    for who, caller in identities.items():
        for route in _pages(app):
            for what, url in _urls(route, world):
                response = caller.open(url)
                where = f"{url} ({route.endpoint}{', ' + what if what else ''}) as {who}"
                if response.status_code >= 500:
                    failures.append(f"{where}: {response.status_code}")
                if response.status_code != 200 or response.mimetype != "text/html":
                    continue
                rendered[route.endpoint] += 1
                failures += [f"{where}: {p}" for p in problems(response.get_data(as_text=True))]

    never = sorted({r.endpoint for r in _pages(app)} - set(rendered))
    assert not never, f"these GET routes rendered no page for anyone: {never}"
    assert not failures, "\n".join(failures)
