"""Referral: a partner-referral and lead-sharing marketplace for local service businesses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from referral.config import (
    Config,
    default_database_url,
    instance_secret_key,
    resolve_stripe_settings,
)
from referral.logs import configure_logging

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Config | dict[str, Any] | None = None) -> Flask:
    """Build the app. `config` is a Config (or a mapping) overriding the environment."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(PROJECT_ROOT / "instance"),
        instance_relative_config=True,
    )
    settings = config if config is not None else Config()
    app.config.update(settings.as_dict() if isinstance(settings, Config) else settings)
    instance = Path(app.instance_path)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(instance)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = default_database_url(instance)
    resolve_stripe_settings(app.config, instance)

    configure_logging(app)
    if app.config.get("TRUSTED_PROXIES"):
        # The client's address (rate limits, consent evidence) and scheme as the
        # balancer saw them, from the headers of that many hops and no more.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    from referral import api, db, errors, security, templating
    from referral.auth import current
    from referral.models import load_all_models
    from referral.views import register_blueprints

    load_all_models()
    from referral.ids import IdConverter

    app.url_map.converters["int"] = IdConverter  # before any route is added
    from referral.jobs.queue import load_job_handlers

    load_job_handlers()
    db.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    current.init_app(app)
    register_blueprints(app)
    app.extensions["referral_api"] = api.init_app(app)

    from referral.cli import register_commands

    register_commands(app)
    return app
