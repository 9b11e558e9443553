"""The app's wiring: every domain, bottom layer first, and what each brings.

This is the one module that knows them all (docs/architecture.md). From the
tuple below the app factory registers the page blueprints, the API
blueprints and the CLI commands; the worker knows every job handler and every
reaction a domain registered with a lower one (Stripe events, erasure,
consent answers, referral outcomes, trust signals), because importing a
domain's `reactions` modules registers them; Alembic and the tests see every
table.

Within the money layer the domains import in one order, with no circles:
ledger < commissions < payments < leads < settlements (each may import those
before it; leads and settlements do not import each other). Payments hears
from Stripe and calls up through its registries (referral/payments/events.py,
payments_page_shows in referral/payments/views.py, payment_check in
referral/payments/mismatches.py), which settlements and leads fill.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import click
from flask import Blueprint, Flask
from flask_smorest import Blueprint as ApiBlueprint  # type: ignore[import-untyped]
from sqlalchemy import MetaData
from sqlmodel import SQLModel

from referral import api_docs, backup, demo, devserver, housekeeping, idempotency, views
from referral.analytics import api as analytics_api
from referral.analytics import views as analytics_views
from referral.audit import models as audit_models
from referral.auth import cli as auth_cli
from referral.auth import models as auth_models
from referral.auth import views as auth_views
from referral.auth.apikeys import views as apikeys_views
from referral.businesses import api as businesses_api
from referral.businesses import audit_trail as businesses_audit_trail
from referral.businesses import cli as businesses_cli
from referral.businesses import current as businesses_current
from referral.businesses import me_api as businesses_me_api
from referral.businesses import models as businesses_models
from referral.businesses import views as businesses_views
from referral.campaigns import api as campaigns_api
from referral.campaigns import followups as campaigns_followups
from referral.campaigns import followups_api as campaigns_followups_api
from referral.campaigns import followups_views as campaigns_followups_views
from referral.campaigns import jobs as campaigns_jobs
from referral.campaigns import models as campaigns_models
from referral.campaigns import views as campaigns_views
from referral.commissions import api as commissions_api
from referral.commissions import jobs as commissions_jobs
from referral.commissions import models as commissions_models
from referral.commissions import referral_outcomes as commissions_referral_outcomes
from referral.commissions import views as commissions_views
from referral.consent import models as consent_models
from referral.consent import reactions as consent_reactions
from referral.consent import views as consent_views
from referral.customers import api as customers_api
from referral.customers import jobs as customers_jobs
from referral.customers import marketing as customers_marketing
from referral.customers import marketing_views as customers_marketing_views
from referral.customers import models as customers_models
from referral.customers import views as customers_views
from referral.events import models as events_models
from referral.integrations import api as integrations_api
from referral.integrations import delivery as integrations_delivery
from referral.integrations import views as integrations_views
from referral.jobs import cli as jobs_cli
from referral.jobs import models as jobs_models
from referral.jobs.queue import HANDLERS, JobHandler
from referral.leads import api as leads_api
from referral.leads import consent_answers as leads_consent_answers
from referral.leads import jobs as leads_jobs
from referral.leads import models as leads_models
from referral.leads import reconcile as leads_reconcile
from referral.leads import stripe_events as leads_stripe_events
from referral.leads import views as leads_views
from referral.ledger import models as ledger_models
from referral.mail import delivery as mail_delivery
from referral.mail import models as mail_models
from referral.mail import views as mail_views
from referral.notifications import models as notifications_models
from referral.notifications import unread as notifications_unread
from referral.notifications import views as notifications_views
from referral.offers import api as offers_api
from referral.offers import models as offers_models
from referral.offers import views as offers_views
from referral.partnerships import api as partnerships_api
from referral.partnerships import models as partnerships_models
from referral.partnerships import terms as partnerships_terms
from referral.partnerships import views as partnerships_views
from referral.payments import api as payments_api
from referral.payments import cli as payments_cli
from referral.payments import jobs as payments_jobs
from referral.payments import models as payments_models
from referral.payments import views as payments_views
from referral.referrals import api as referrals_api
from referral.referrals import jobs as referrals_jobs
from referral.referrals import models as referrals_models
from referral.referrals import reactions as referrals_reactions
from referral.referrals import trust as referrals_trust
from referral.referrals import views as referrals_views
from referral.restapi import Api, make_api
from referral.security import csrf
from referral.settlements import api as settlements_api
from referral.settlements import cli as settlements_cli
from referral.settlements import jobs as settlements_jobs
from referral.settlements import models as settlements_models
from referral.settlements import reconcile as settlements_reconcile
from referral.settlements import stripe_events as settlements_stripe_events
from referral.settlements import views as settlements_views


@dataclass(frozen=True)
class Domain:
    """What one domain brings to the app. `reactions` are modules imported
    only for what they register: job handlers, and handlers a lower domain
    calls (Stripe events, erasure, consent answers, referral outcomes, trust
    signals, what loads with the caller, template filters)."""

    name: str
    models: tuple[ModuleType, ...] = ()
    pages: tuple[Blueprint, ...] = ()
    api: tuple[ApiBlueprint, ...] = ()
    reactions: tuple[ModuleType, ...] = ()
    commands: tuple[click.Command, ...] = ()


DOMAINS: tuple[Domain, ...] = (
    # core
    Domain("idempotency", models=(idempotency,)),
    Domain("jobs", models=(jobs_models,), commands=tuple(jobs_cli.commands)),
    Domain("mail", models=(mail_models,), pages=(mail_views.bp,), reactions=(mail_delivery,)),
    Domain("events", models=(events_models,)),
    Domain("audit", models=(audit_models,)),
    # accounts
    Domain(
        "auth",
        models=(auth_models,),
        pages=(auth_views.bp, apikeys_views.bp),
        commands=tuple(auth_cli.commands),
    ),
    Domain(
        "businesses",
        models=(businesses_models,),
        pages=(businesses_views.bp, businesses_audit_trail.bp),
        api=(businesses_me_api.blp, businesses_api.blp),
        reactions=(businesses_current,),
        commands=tuple(businesses_cli.commands),
    ),
    Domain(
        "notifications",
        models=(notifications_models,),
        pages=(notifications_views.bp,),
        reactions=(notifications_unread,),
    ),
    # network
    Domain(
        "partnerships",
        models=(partnerships_models,),
        pages=(partnerships_views.bp,),
        api=(partnerships_api.blp,),
        reactions=(partnerships_terms,),
    ),
    Domain(
        "customers",
        models=(customers_models,),
        pages=(customers_views.bp, customers_marketing_views.bp),
        api=(customers_api.blp,),
        reactions=(customers_jobs, customers_marketing),
    ),
    Domain(
        "consent",
        models=(consent_models,),
        pages=(consent_views.bp,),
        reactions=(consent_reactions,),
    ),
    Domain(
        "referrals",
        models=(referrals_models,),
        pages=(referrals_views.bp,),
        api=(referrals_api.blp,),
        reactions=(referrals_jobs, referrals_reactions, referrals_trust),
    ),
    # money: ledger < commissions < payments < leads < settlements (the docstring)
    Domain("ledger", models=(ledger_models,)),
    Domain(
        "commissions",
        models=(commissions_models,),
        pages=(commissions_views.bp,),
        api=(commissions_api.blp,),
        reactions=(commissions_jobs, commissions_referral_outcomes),
    ),
    Domain(
        "payments",
        models=(payments_models,),
        pages=(payments_views.bp,),
        api=(payments_api.blp,),
        reactions=(payments_jobs,),
        commands=tuple(payments_cli.commands),
    ),
    Domain(
        "leads",
        models=(leads_models,),
        pages=(leads_views.bp,),
        api=(leads_api.blp,),
        reactions=(leads_jobs, leads_consent_answers, leads_stripe_events, leads_reconcile),
    ),
    Domain(
        "settlements",
        models=(settlements_models,),
        pages=(settlements_views.bp,),
        api=(settlements_api.blp,),
        reactions=(settlements_jobs, settlements_stripe_events, settlements_reconcile),
        commands=tuple(settlements_cli.commands),
    ),
    # outreach
    Domain("offers", models=(offers_models,), pages=(offers_views.bp,), api=(offers_api.blp,)),
    Domain(
        "campaigns",
        models=(campaigns_models,),
        pages=(campaigns_views.bp, campaigns_followups_views.bp),
        api=(campaigns_api.blp, campaigns_followups_api.blp),
        reactions=(campaigns_jobs, campaigns_followups),
    ),
    # analytics and integrations
    Domain("analytics", pages=(analytics_views.bp,), api=(analytics_api.blp,)),
    Domain(
        "integrations",
        pages=(integrations_views.bp,),
        api=(integrations_api.blp,),
        reactions=(integrations_delivery,),
    ),
    # the app itself
    Domain(
        "app",
        pages=(views.home, api_docs.docs),
        reactions=(housekeeping,),
        commands=(*demo.commands, *devserver.commands, *backup.commands),
    ),
)


def _each(attribute: str) -> Iterable[Any]:
    for domain in DOMAINS:
        yield from getattr(domain, attribute)


def load_all_models() -> MetaData:
    """Every domain's tables (their modules are imported above)."""
    return SQLModel.metadata


def load_job_handlers() -> dict[str, JobHandler]:
    """Every job handler (each `reactions` module registered its own on import)."""
    return HANDLERS


def register_pages(app: Flask) -> None:
    for blueprint in _each("pages"):
        app.register_blueprint(blueprint)


def register_api(app: Flask) -> Api:
    api = make_api(app)
    for blueprint in _each("api"):
        csrf.exempt(blueprint)  # API calls authenticate with a key, not a cookie
        api.register_blueprint(blueprint, url_prefix=f"/api/v1{blueprint.url_prefix or ''}")
    return api


def register_commands(app: Flask) -> None:
    for command in _each("commands"):
        app.cli.add_command(command)
