"""The base every table derives from, with the constraint naming convention.

It imports no domain: the list of every domain's models is the app's wiring
(`referral.domains.load_all_models`)."""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Callable
from functools import cached_property
from typing import Any

from pydantic.fields import FieldInfo
from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlmodel import Field, SQLModel
from sqlmodel._compat import finish_init, sqlmodel_init

from referral.db import UTCDateTime, utcnow

# Stable constraint names, so migrations can refer to them on every database.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class TableBase(SQLModel):
    """Every table has an integer id and a UTC creation time."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    def __init__(__pydantic_self__, **data: Any) -> None:  # noqa: N805 (SQLModel's name: "self" may be a field)
        # SQLModel's constructor, with what it works out again for every row
        # (each field's default, and whether a factory takes data, which
        # pydantic answers with inspect.signature) worked out once per class.
        # `model_validate` builds its instance with finish_init off: as SQLModel.
        if finish_init.get():
            construction = _construction(type(__pydantic_self__))
            if construction is None:
                sqlmodel_init(self=__pydantic_self__, data=data)
            else:
                construction.build(__pydantic_self__, data)


def foreign_key(target: str, *, nullable: bool = False, index: bool = False) -> Any:
    """An integer column referencing `target` ("table.id"); required unless nullable."""
    return Field(
        default=None if nullable else ...,
        sa_column=Column(Integer, ForeignKey(target), nullable=nullable, index=index),
    )


def utc_column(**kwargs: object) -> object:
    """A UTC timestamp field; nullable unless a default is given."""
    return Field(sa_type=UTCDateTime, **kwargs)  # type: ignore[arg-type]


# Defaults pydantic hands out as they are (its smart_deepcopy copies the rest).
_SHARED_DEFAULTS = (type(None), bool, int, float, complex, str, bytes)


class _Construction:
    """How SQLModel's constructor (`sqlmodel_table_construct`) fills an instance
    of one table class, worked out once: each given field, by alias or name,
    then each missing field's default, is set through SQLAlchemy's
    instrumentation and into the instance's dict, as SQLModel's __setattr__
    does; only the given fields count as set (`model_fields_set`)."""

    def __init__(self, cls: type[SQLModel]) -> None:
        manager = manager_of_class(cls)
        self.fields: list[tuple[str, str | None, Callable[[], Any] | None]] = []
        for name, field in cls.model_fields.items():
            self.fields.append((name, field.alias or None, _default_maker(field)))
        self.instrumented = frozenset(
            name for name in cls.model_fields if manager.is_instrumented(name, search=True)
        )

    def build(self, instance: SQLModel, data: dict[str, Any]) -> None:
        given: dict[str, Any] = {}
        defaults: dict[str, Any] = {}
        for name, alias, default in self.fields:
            if alias is not None and alias in data:
                given[name] = data.pop(alias)
            elif name in data:
                given[name] = data.pop(name)
            elif default is not None:
                defaults[name] = default()
        fields_set = set(given)
        given.update(defaults)
        values = instance.__dict__
        state = instance_state(instance)
        for name, value in given.items():
            if name in self.instrumented:
                # What set_attribute(instance, name, value) does, with the state found once.
                state.manager[name].impl.set(state, values, value, None)
            values[name] = value  # as pydantic's __setattr__, after SQLAlchemy's
        object.__setattr__(instance, "__pydantic_fields_set__", fields_set)
        object.__setattr__(instance, "__pydantic_extra__", None)
        object.__setattr__(instance, "__pydantic_private__", None)


def _default_maker(field: FieldInfo) -> Callable[[], Any] | None:
    """What gives a missing field its value as `field.get_default(call_default_factory=True)`
    does; None for a required field (SQLModel leaves it unset)."""
    if field.is_required():
        return None
    factory = field.default_factory
    if factory is None:
        default = field.default
        if type(default) in _SHARED_DEFAULTS or isinstance(default, enum.Enum):
            return lambda: default
        return functools.partial(field.get_default, call_default_factory=True)
    if field.default_factory_takes_validated_data:
        # SQLModel passes no data: pydantic's own error, on each construction.
        return functools.partial(field.get_default, call_default_factory=True)
    return factory  # type: ignore[return-value]


@functools.cache
def _construction(cls: type[SQLModel]) -> _Construction | None:
    """The short way to build `cls`, or None where SQLModel's own way does more
    than `_Construction` repeats: a model that is not a table (validated),
    extra fields kept, a post-init, relationships, validated or frozen
    assignment, a field shadowed by a property."""
    config = cls.model_config
    if (
        not config.get("table")
        or config.get("extra") == "allow"
        or config.get("validate_assignment")
        or config.get("frozen")
        or cls.__pydantic_post_init__
        or cls.__pydantic_root_model__
        or cls.__sqlmodel_relationships__
    ):
        return None
    for name, field in cls.model_fields.items():
        shadow = getattr(cls, name, None)
        if (
            field.frozen
            or name in cls.__class_vars__
            or isinstance(shadow, property | cached_property)
        ):
            return None
    return _Construction(cls)
