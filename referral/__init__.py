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
from referral.paths import default_instance_path, resource
from referral.payments.pricing import resolve_minimums
from referral.webapp import ReferralFlask


def create_app(config: Config | dict[str, Any] | None = None) -> Flask:
    """Build the app. `config` is a Config (or a mapping) overriding the environment."""
    settings = config if config is not None else Config()
    values = settings.as_dict() if isinstance(settings, Config) else dict(settings)
    app = ReferralFlask(
        __name__,
        template_folder=str(resource("templates")),
        static_folder=str(resource("static")),
        instance_path=str(
            Path(str(values.get("INSTANCE_PATH") or default_instance_path())).resolve()
        ),
        instance_relative_config=True,
    )
    app.config.update(values)
    instance = Path(app.instance_path)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(instance)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = default_database_url(instance)
    resolve_stripe_settings(app.config, instance)
    resolve_minimums(app.config)

    configure_logging(app)
    app.extensions["settings_warnings"] = list(getattr(settings, "warnings", []))
    for warning in app.extensions["settings_warnings"]:
        app.logger.warning("settings: %s", warning)
    if app.config.get("TRUSTED_PROXIES"):
        # The client's address (rate limits, consent evidence) and scheme as the
        # balancer saw them, from the headers of that many hops and no more.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    from referral import db, domains, errors, security, templating
    from referral.auth import current
    from referral.cookie_sessions import SignedCookieSessions
    from referral.ids import IdConverter

    app.url_map.converters["int"] = IdConverter  # before any route is added
    app.session_interface = SignedCookieSessions()
    db.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    current.init_app(app)
    domains.register_pages(app)
    app.extensions["referral_api"] = domains.register_api(app)

    from referral.cli import register_commands

    register_commands(app)
    return app
