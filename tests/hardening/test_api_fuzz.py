"""The REST API fuzzed from its own OpenAPI spec (/api/v1/openapi.json) with
schemathesis, in process through WSGI, every operation, authenticated with the
API key of a business whose world (build_own_world, tests/support/world.py)
has partners, customers, referrals, commissions, a settlement and leads, so that generated
requests reach the logic behind the 404s: path and body ids are drawn from
that world as often as they are generated.

Every response must be no 5xx and must conform to the spec: a documented
status code (the catch-all `default` does not count), a body matching its
schema, error bodies included.

This runs on SQLite only: every operation builds its own copy of the world,
and PostgreSQL would double a run that takes most of the two-minute budget
on a two-core machine, without exercising anything the API's own tests do
not already run on both. REFERRAL_FUZZ_EXAMPLES raises the number of
generated requests per operation (25 by default; see docs/api-fuzzing.md
for a longer run)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from referral import create_app
from referral.businesses.models import Trade
from referral.config import TestConfig
from referral.ids import MAX_ID
from referral.partnerships.models import MAX_FLAT_FEE_CENTS, MAX_RATE_BPS
from tests.support.app import make_test_app
from tests.support.stripe_standin import StripeStandIn, stripe_standin  # noqa: F401
from tests.support.world import OwnWorld, build_own_world

EXAMPLES = int(os.environ.get("REFERRAL_FUZZ_EXAMPLES", "25"))

# Body and query fields that name an object, and the world's ids they take.
ID_FIELDS = {
    "business_id": "business_id",
    "customer_id": "customer_id",
    "trade_id": "trade_id",
    "referral_id": "referral_id",
}


def _spec_app() -> Flask:
    """An app used only to serve the spec: the operations do not depend on data."""
    return create_app(TestConfig(DATABASE_URL="sqlite://"))


schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json",
    _spec_app(),
    config=schemathesis.Config.from_dict(
        {
            "checks": {
                # Valid by the schema yet refused by a rule it cannot state (a ZIP
                # code nobody has, a past job dated in the future, a percent basis
                # without its rate): 422 with the field's error, as documented.
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
                }
            }
        }
    ),
)


@pytest.fixture(scope="module")
def world_template(
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    stripe_standin: StripeStandIn,  # noqa: F811
) -> Iterator[tuple[Path, OwnWorld]]:
    """The world, built once into a SQLite file that each operation copies."""
    path = tmp_path_factory.mktemp("fuzz") / "world.db"
    shutil.copyfile(sqlite_template, path)
    app = make_test_app(f"sqlite:///{path}", STRIPE_API_BASE=stripe_standin.api_base)
    with app.app_context(), Session(app.extensions["db_engine"]) as db:
        world = build_own_world(db, standin=stripe_standin)
        world.add("trade_id", *db.exec(select(Trade.id)))
    Known.api_key, Known.ids = world.api_key, world.ids
    app.extensions["db_engine"].dispose()
    yield path, world


@pytest.fixture
def fuzz_app(
    world_template: tuple[Path, OwnWorld],
    tmp_path: Path,
    stripe_standin: StripeStandIn,  # noqa: F811
) -> Iterator[Flask]:
    path = tmp_path / "referral.db"
    shutil.copyfile(world_template[0], path)
    app = make_test_app(
        f"sqlite:///{path}",
        STRIPE_API_BASE=stripe_standin.api_base,
        UPLOAD_FOLDER=str(tmp_path / "uploads"),
    )
    yield app
    app.extensions["db_engine"].dispose()


def status_code_documented(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """Every status the API answers is declared for the operation; `default`
    (which flask-smorest adds everywhere) would otherwise let any code pass."""
    if case.method.upper() != case.operation.method.upper():
        return None  # an unsupported method on purpose: the 405 check judges it
    declared = set(case.operation.definition.raw.get("responses", {}))
    status = str(response.status_code)
    if status not in declared and f"{status[0]}XX" not in declared:
        raise AssertionError(
            f"{response.status_code} is not declared for {case.operation.label}: "
            f"declared {sorted(declared - {'default'})}"
        )
    return None


class Known:
    """What generation needs from the world `world_template` builds: its API key
    and its ids by the name they go by. Schemathesis builds its strategies and
    sets auth before any fixture value could reach them, so they read it here."""

    api_key = ""
    ids: dict[str, list[int]] = {}


@schema.auth()
class WorldApiKey:
    """The world's API key on every request, except those generated without one
    on purpose (they must get 401)."""

    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str:
        return Known.api_key

    def set(self, case: schemathesis.Case, data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


# The amount each commission basis needs: the schema cannot require it, as it
# depends on the basis, so generated terms would nearly always stop at the 422.
BASIS_AMOUNTS = {
    "percent": ("rate_bps", st.integers(1, MAX_RATE_BPS)),
    "flat_per_won": ("flat_fee_cents", st.integers(1, MAX_FLAT_FEE_CENTS)),
    "flat_per_accepted": ("flat_fee_cents", st.integers(1, MAX_FLAT_FEE_CENTS)),
}


def _reaching_the_logic(values: Any) -> st.SearchStrategy[Any]:
    """Generated values, some swapped for values that get past validation: a
    valid id for one of the world's, terms without their amount for terms with
    one (incomplete terms are the coverage phase's to try). An invalid value (a
    negative id, a string for a number...) stays: it is the point of a negative
    case."""
    if not isinstance(values, dict):
        return st.just(values)
    choices = {}
    for name, value in values.items():
        ids = Known.ids.get(ID_FIELDS.get(name, name))
        if ids and type(value) is int and 1 <= value <= MAX_ID:
            choices[name] = st.sampled_from([*ids, value])
        elif isinstance(value, dict) and value.get("basis") in BASIS_AMOUNTS:
            amount, amounts = BASIS_AMOUNTS[value["basis"]]
            choices[name] = st.just(value)
            if value.get(amount) is None:
                choices[name] = amounts.map(lambda cents, v=value, a=amount: {**v, a: cents})
        else:
            choices[name] = st.just(value)
    return st.fixed_dictionaries(choices)


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: Any) -> st.SearchStrategy[Any]:
    return _reaching_the_logic(path_parameters)


@schema.hook
def flatmap_query(context: Any, query: Any) -> st.SearchStrategy[Any]:
    return _reaching_the_logic(query)


@schema.hook
def flatmap_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
    return _reaching_the_logic(body)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented_and_never_fails(
    case: schemathesis.Case, fuzz_app: Flask
) -> None:
    case.call_and_validate(app=fuzz_app, additional_checks=[status_code_documented])
