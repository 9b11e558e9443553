"""The app's Flask class: Flask, with what it worked out again on every call
of a request worked out once."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any

from flask import Flask
from flask.sansio.blueprints import Blueprint
from flask.templating import _default_template_ctx_processor


class ReferralFlask(Flask):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain_functions: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask asks on each call of every view and request hook whether it is
        `async def` (14 times a request for `GET /api/v1/me`, 5% of its CPU);
        the answer never changes, so it is asked once per function (a bound
        method's by its function, as `inspect` looks there too)."""
        function = getattr(func, "__func__", func)
        try:
            plain = self._plain_functions[function]
        except KeyError:
            plain = self._plain_functions[function] = not iscoroutinefunction(func)
        except TypeError:  # not weakly referenceable: ask each time
            plain = not iscoroutinefunction(func)
        return func if plain else self.async_to_sync(func)

    def register_blueprint(self, blueprint: Blueprint, **options: Any) -> None:
        """Flask gives every blueprint its default context processor (`g`,
        `request`, `session`), which the app already runs for every template:
        kept, it ran twice on each page of a blueprint."""
        super().register_blueprint(blueprint, **options)
        for name, processors in self.template_context_processors.items():
            if name is not None and _default_template_ctx_processor in processors:
                processors.remove(_default_template_ctx_processor)
