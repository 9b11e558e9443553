"""`referral stripe setup` and `referral stripe check` (docs/stripe.md)."""

from __future__ import annotations

import secrets

import click
from flask import current_app
from flask.cli import with_appcontext

stripe_group = click.Group("stripe", help="The Stripe account: webhook endpoints and a live check.")


@stripe_group.command("setup")
@click.option(
    "--url",
    "base_url",
    help="The app's public address (default: BASE_URL); the endpoints are under it.",
)
@with_appcontext
def setup_command(base_url: str | None) -> None:
    """Create the platform and the Connect webhook endpoints, in the API version
    the app speaks and for exactly the events it handles; print both secrets."""
    from referral.payments import gateway, webhooks

    base = (base_url or current_app.config["BASE_URL"]).rstrip("/")
    asked_for = webhooks.endpoint_events()
    wanted = {
        "platform": (f"{base}/stripe/webhook", asked_for["platform"], False),
        "connect": (f"{base}/stripe/webhook/connect", asked_for["connect"], True),
    }
    existing = {endpoint.url: endpoint for endpoint in gateway.webhook_endpoints()}
    settings = {"platform": "STRIPE_WEBHOOK_SECRET", "connect": "STRIPE_CONNECT_WEBHOOK_SECRET"}
    for kind, (url, events, connect) in wanted.items():
        found = existing.get(url)
        if found is not None:
            click.echo(
                f"{kind}: {url} exists ({found.endpoint_id}, version {found.api_version}); its"
                " secret is shown only when created: delete it on the dashboard to make it again"
            )
            continue
        created = gateway.create_webhook_endpoint(
            url=url, events=events, connect=connect, description=f"Referral ({kind})"
        )
        click.echo(f"{kind}: {url} created ({created.endpoint_id}) for {', '.join(events)}")
        click.echo(f"  {settings[kind]}={created.secret}")
    click.echo(f"API version: {gateway.API_VERSION}")


@stripe_group.command("check")
@click.option(
    "--account",
    "account_id",
    help="An Express account onboarded in test mode, to be paid (real Stripe only).",
)
@with_appcontext
def check_command(account_id: str | None) -> None:
    """Walk onboarding, a saved card, a destination charge, a refund and a dispute
    on a test-mode account (or the stand-in); print what passed. Exit 1 on a failure."""
    from referral.payments.check import on_standin, run_check

    key = str(current_app.config["STRIPE_SECRET_KEY"])
    if not (on_standin() or key.startswith("sk_test_")):
        raise click.ClickException("referral stripe check runs with an sk_test_ key only.")
    check = run_check(
        account_id=account_id,
        run_id=secrets.token_hex(4),
        base_url=str(current_app.config["BASE_URL"]).rstrip("/"),
    )
    for step in check.steps:
        click.echo(f"{'pass' if step.ok else 'FAIL'}  {step.name}: {step.detail}")
    passed = sum(step.ok for step in check.steps)
    click.echo(f"stripe check: {passed} of {len(check.steps)} steps passed")
    if not check.passed:
        raise SystemExit(1)


commands: list[click.Command] = [stripe_group]
