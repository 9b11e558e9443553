"""The app's Flask class answers as Flask does, only asking less often."""

from __future__ import annotations

import pytest
from flask import Flask


class Hooks:
    def plain(self) -> str:
        return "plain"

    async def awaited(self) -> str:
        return "awaited"


def test_a_plain_function_or_method_is_called_as_it_is(app: Flask) -> None:
    hooks = Hooks()
    for _ in range(2):  # the second answer comes from what the first worked out
        assert app.ensure_sync(hooks.plain) == hooks.plain
        assert app.ensure_sync(Hooks().plain)() == "plain"


def test_an_async_function_still_goes_to_flask_async_to_sync(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[object] = []
    monkeypatch.setattr(app, "async_to_sync", lambda func: handed.append(func) or func)
    hooks = Hooks()
    app.ensure_sync(hooks.plain)
    for _ in range(2):
        app.ensure_sync(hooks.awaited)
    assert handed == [hooks.awaited, hooks.awaited]


def test_flask_s_default_context_runs_once_per_page_not_again_per_blueprint(app: Flask) -> None:
    from flask.templating import _default_template_ctx_processor

    processors = app.template_context_processors
    assert _default_template_ctx_processor in processors[None]
    assert [name for name, funcs in processors.items() if name and funcs] == []
    with app.test_request_context("/referrals/inbox"):
        app.preprocess_request()
        context: dict[str, object] = {}
        app.update_template_context(context)
    assert {"g", "request"} <= set(context)  # the session is a global of every template
