"""Building a table row: TableBase's constructor gives what SQLModel's own
gives (the same values, the same fields counted as set, the same changes for
SQLAlchemy to write), only without working each field's default out again."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import inspect
from sqlmodel import SQLModel
from sqlmodel._compat import partial_init, sqlmodel_init

from referral.db import utcnow
from referral.domains import load_all_models
from referral.jobs.models import Job
from referral.referrals.models import Referral, ReferralStatus
from referral.tables import TableBase, _construction


def _tables() -> list[type[SQLModel]]:
    load_all_models()
    classes = [mapper.class_ for mapper in SQLModel._sa_registry.mappers]
    return sorted(classes, key=lambda cls: cls.__name__)


def _built_by_sqlmodel(cls: type[SQLModel], **values: Any) -> Any:
    """The row as SQLModel's own constructor builds it."""
    with partial_init():
        instance = cls()  # SQLAlchemy's state only, as SQLModel's model_validate does
    sqlmodel_init(self=instance, data=values)
    return instance


def _made_by_factory(cls: type[SQLModel], name: str) -> bool:
    return cls.model_fields[name].default_factory is not None


def _comparable(cls: type[SQLModel], name: str, value: Any) -> Any:
    # A factory's value is made anew for each row (a clock's time differs).
    return type(value) if _made_by_factory(cls, name) else value


def _observed(instance: Any) -> dict[str, Any]:
    """All that the rest of the code can see of a new row."""
    cls = type(instance)
    state = inspect(instance)
    values = {k: v for k, v in vars(instance).items() if k != "_sa_instance_state"}
    return {
        "values": {name: _comparable(cls, name, value) for name, value in values.items()},
        "order": list(values),
        "fields set": instance.model_fields_set,
        "extra": instance.__pydantic_extra__,
        "private": instance.__pydantic_private__,
        "pending changes": {
            attr.key: tuple(
                tuple(_comparable(cls, attr.key, value) for value in part) for part in attr.history
            )
            for attr in state.attrs
        },
        "modified": state.modified,
        "committed": set(state.committed_state),
    }


def test_every_table_takes_the_short_way() -> None:
    assert all(_construction(cls) is not None for cls in _tables())


@pytest.mark.parametrize("cls", _tables(), ids=lambda cls: cls.__name__)
def test_a_row_built_with_nothing_given_is_as_sqlmodel_builds_it(cls: type[SQLModel]) -> None:
    assert _observed(cls()) == _observed(_built_by_sqlmodel(cls))


@pytest.mark.parametrize("cls", _tables(), ids=lambda cls: cls.__name__)
def test_a_row_built_with_values_given_is_as_sqlmodel_builds_it(cls: type[SQLModel]) -> None:
    # Every other field given (values are not validated on a table), the rest left to defaults.
    given = {name: f"given {name}" for name in list(cls.model_fields)[::2]}
    ours, theirs = cls(**given), _built_by_sqlmodel(cls, **given)
    assert _observed(ours) == _observed(theirs)
    assert {name: getattr(ours, name) for name in given} == given


def test_missing_fields_get_their_defaults_and_only_given_ones_count_as_set() -> None:
    job = Job(kind="send_email")
    assert (job.kind, job.payload, job.status, job.attempts, job.id) == (
        "send_email",
        {},
        "queued",
        0,
        None,
    )
    assert job.model_fields_set == {"kind"}


def test_default_factories_are_called_for_each_row() -> None:
    before = utcnow()
    first, second = Job(kind="a"), Job(kind="b")
    after = utcnow()
    assert first.payload is not second.payload
    assert before <= first.created_at <= second.created_at <= after
    assert before <= first.run_at <= after


def test_values_given_are_kept_even_where_a_default_exists() -> None:
    when = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    payload = {"to": "a@example.com"}
    job = Job(kind="a", payload=payload, run_at=when, created_at=when, status="done", id=7)
    assert job.payload is payload
    assert (job.run_at, job.created_at, job.status, job.id) == (when, when, "done", 7)
    assert job.model_fields_set == {"kind", "payload", "run_at", "created_at", "status", "id"}


def test_a_required_field_not_given_is_left_unset_as_sqlmodel_leaves_it() -> None:
    referral = Referral(need="a roof", status=ReferralStatus.SENT)
    assert "sender_id" not in vars(referral)
    assert (referral.status, referral.currency, referral.refunded_cents) == ("sent", "USD", 0)


def test_model_validate_still_builds_a_row() -> None:
    job = Job.model_validate({"kind": "a", "attempts": 2})
    assert (job.kind, job.attempts, job.status) == ("a", 2, "queued")
    assert inspect(job).transient


def test_a_model_that_is_not_a_table_is_validated_as_before() -> None:
    assert _construction(TableBase) is None
    assert TableBase(id="3").id == 3
