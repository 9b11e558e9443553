"""Every field the app reads from a Stripe event's object must exist on
stripe-python's resource class for that object (in the API version it pins):
a misspelt or removed field would read as None in live mode and pass unnoticed.

`FieldReads` wraps the object a webhook handler gets and records each field it
reads, by path; `unknown_fields` checks the paths against stripe-python's
annotated resource classes (nested classes and expandable fields included).
"""

from __future__ import annotations

import threading
import typing
from collections.abc import Iterable
from typing import Any, ForwardRef

import stripe
from stripe._object_classes import get_object_class

Path = tuple[str, ...]


class Recorder:
    def __init__(self) -> None:
        self.paths: set[Path] = set()
        self._lock = threading.Lock()

    def add(self, path: Path) -> None:
        with self._lock:
            self.paths.add(path)


class FieldReads(dict):  # type: ignore[type-arg]
    """A dict that records the keys read from it (and from dicts inside it)."""

    def __init__(self, data: dict[str, Any], path: Path, recorder: Recorder) -> None:
        super().__init__(data)
        self._path, self._recorder = path, recorder

    def _wrap(self, key: str, value: Any) -> Any:
        if isinstance(value, dict) and not isinstance(value, FieldReads):
            return FieldReads(value, (*self._path, key), self._recorder)
        return value

    def __getitem__(self, key: str) -> Any:
        self._recorder.add((*self._path, key))
        return self._wrap(key, super().__getitem__(key))

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self._recorder.add((*self._path, key))
        return self._wrap(key, super().__getitem__(key)) if key in self else default


def recording(obj: dict[str, Any], recorder: Recorder) -> FieldReads:
    return FieldReads(obj, (str(obj.get("object")),), recorder)


def unknown_fields(paths: Iterable[Path]) -> list[str]:
    """The paths (object type first) that stripe-python's classes do not have."""
    unknown = []
    for object_name, *fields in sorted(paths):
        classes = [get_object_class("V1", object_name)]
        walked: list[str] = []
        for field in fields:
            if walked and walked[-1] == "metadata":
                break  # our own keys
            found = [cls for cls in classes if field in _annotations(cls)]
            if not found:
                unknown.append(f"{object_name}.{'.'.join([*walked, field])}")
                break
            walked.append(field)
            classes = [c for cls in found for c in _classes_in(_annotations(cls)[field], cls)]
    return unknown


def _annotations(cls: type) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        merged.update(getattr(klass, "__annotations__", {}))
    return merged


def _classes_in(annotation: Any, owner: type) -> list[type]:
    """The stripe classes an annotation names (Optional, Union, ExpandableField...)."""
    if isinstance(annotation, str):
        annotation = ForwardRef(annotation)
    if isinstance(annotation, ForwardRef):
        name = annotation.__forward_arg__.strip("'\"")
        target = getattr(owner, name, None) or getattr(stripe, name, None)
        return [target] if isinstance(target, type) else []
    if isinstance(annotation, type):
        return [annotation] if issubclass(annotation, stripe.StripeObject) else []
    return [c for arg in typing.get_args(annotation) for c in _classes_in(arg, owner)]
