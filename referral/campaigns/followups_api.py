"""API: the key's business's follow-up rules (/api/v1/follow-ups)."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView

from referral.auth.current import api_key_required
from referral.businesses.actor import current_actor
from referral.campaigns import followups
from referral.campaigns.models import FollowUpRule
from referral.campaigns.schemas import (
    FollowUpInSchema,
    FollowUpOutSchema,
    FollowUpPatchSchema,
    FollowUpWithStatsSchema,
)
from referral.db import get_session
from referral.restapi import Blueprint, PageArgs, page_schema, paginate

blp = Blueprint(
    "api_follow_ups",
    __name__,
    url_prefix="/follow-ups",
    description="Follow-up rules: email customers N days after a job (only those who agreed).",
)

MANAGERS_ONLY = "The key's creator is not an owner or manager."


def _with_stats(rule: FollowUpRule) -> dict[str, Any]:
    session = get_session()
    return {
        **rule.model_dump(),
        "counts": followups.rule_counts(session, rule),
        "results": followups.rule_results(session, rule),
    }


@blp.route("")
class FollowUps(MethodView):
    decorators = [api_key_required]

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(FollowUpOutSchema))
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your follow-up rules, newest first."""
        query = followups.list_rules_query(business_id=g.business.id)
        return paginate(get_session(), query, page=args["page"], per_page=args["per_page"])

    @blp.arguments(FollowUpInSchema)
    @blp.response(201, FollowUpWithStatsSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(403, description=MANAGERS_ONLY, schema="Error")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a running rule (an unknown merge field is a 422 on `subject` or `body`)."""
        rule = followups.create_rule(get_session(), actor=current_actor(), **data)
        return _with_stats(rule)


@blp.route("/<int:rule_id>")
class FollowUpItem(MethodView):
    decorators = [api_key_required]

    @blp.response(200, FollowUpWithStatsSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(404, description="Not one of your rules.", schema="Error")
    def get(self, rule_id: int) -> dict[str, Any]:
        """A rule with its counts (sent, skipped, failed) and what it brought."""
        rule = followups.get_rule(get_session(), business_id=g.business.id, rule_id=rule_id)
        return _with_stats(rule)

    @blp.arguments(FollowUpInSchema)
    @blp.response(200, FollowUpWithStatsSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(403, description=MANAGERS_ONLY, schema="Error")
    @blp.alt_response(404, description="Not one of your rules.", schema="Error")
    def put(self, data: dict[str, Any], rule_id: int) -> dict[str, Any]:
        """Replace a rule's message, timing and offers (what it sent stays)."""
        rule = followups.update_rule(get_session(), actor=current_actor(), rule_id=rule_id, **data)
        return _with_stats(rule)

    @blp.arguments(FollowUpPatchSchema, required=False)  # no body: nothing changes
    @blp.response(200, FollowUpWithStatsSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(403, description=MANAGERS_ONLY, schema="Error")
    @blp.alt_response(404, description="Not one of your rules.", schema="Error")
    def patch(self, data: dict[str, Any], rule_id: int) -> dict[str, Any]:
        """Change a rule; only the fields sent change (what it sent stays)."""
        rule = followups.change_rule(
            get_session(), actor=current_actor(), rule_id=rule_id, changes=data or {}
        )
        return _with_stats(rule)


def _action(name: str, summary: str, active: bool) -> None:
    def post(self: MethodView, rule_id: int) -> dict[str, Any]:
        rule = followups.set_active(
            get_session(), actor=current_actor(), rule_id=rule_id, active=active
        )
        return _with_stats(rule)

    post.__doc__ = summary
    view: Any = blp.response(200, FollowUpWithStatsSchema)(post)
    for code, description in (
        (401, "No valid API key."),
        (403, MANAGERS_ONLY),
        (404, "Not one of your rules."),
        (409, "The rule already is."),
    ):
        view = blp.alt_response(code, description=description, schema="Error")(view)
    cls = type(
        f"FollowUp{name.title()}", (MethodView,), {"decorators": [api_key_required], "post": view}
    )
    blp.route(f"/<int:rule_id>/{name}", endpoint=f"follow_up_{name}")(cls)


_action("pause", "Pause the rule: nothing more is sent until it is resumed.", False)
_action("resume", "Resume a paused rule (jobs due while paused, up to 3 days back, go out).", True)
