"""Campaign input and output: the API's JSON and the page's form."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from referral.businesses.schemas import RADIUS_RANGE
from referral.forms import FormSchema
from referral.money import MAX_JOB_CENTS, Cents, Dollars

LIFETIME_MAX = MAX_JOB_CENTS * 1000


def _text(max_length: int, what: str) -> ma.fields.String:
    return ma.fields.String(
        required=True,
        validate=ma.validate.Length(
            min=1, max=max_length, error=f"Enter {what} of 1 to {max_length} characters."
        ),
        error_messages={"required": f"Enter {what}."},
    )


class MessageFields(ma.Schema):
    name = _text(120, "a name")
    subject = _text(200, "a subject")
    body = ma.fields.String(
        required=True,
        validate=ma.validate.Length(
            min=1, max=20000, error="Write the message (at most 20,000 characters)."
        ),
        error_messages={"required": "Write the message."},
        metadata={
            "description": "Plain text; a blank line starts a paragraph. Merge fields: "
            "{first_name}, {name}, {last_job_date}, {business_name}.",
            "verbatim": True,
        },
    )


class SegmentFields(ma.Schema):
    last_job_from = ma.fields.Date(allow_none=True, load_default=None)
    last_job_to = ma.fields.Date(allow_none=True, load_default=None)
    zip_code = ma.fields.String(
        load_default="",
        validate=ma.validate.Regexp(r"^(\d{5})?$", error="Enter a five-digit ZIP code."),
    )
    radius_miles = ma.fields.Integer(allow_none=True, load_default=None, validate=RADIUS_RANGE)


class CampaignSegmentSchema(SegmentFields):
    """Which customers: each criterion given narrows the choice."""

    trades = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(max=60)),
        load_default=list,
        metadata={"description": "Customers with a past job of one of these trades."},
    )
    min_lifetime_cents = Cents(allow_none=True, load_default=None, maximum=LIFETIME_MAX)
    max_lifetime_cents = Cents(allow_none=True, load_default=None, maximum=LIFETIME_MAX)
    radius_miles = ma.fields.Integer(
        strict=True, allow_none=True, load_default=None, validate=RADIUS_RANGE
    )


class CampaignInSchema(MessageFields):
    class Meta:
        unknown = ma.RAISE

    segment = ma.fields.Nested(CampaignSegmentSchema, load_default=dict)
    offer_ids = ma.fields.List(
        ma.fields.Integer(strict=True),
        load_default=list,
        validate=ma.validate.Length(max=20),
        metadata={
            "description": "Offers each email carries as a personal link: your own current "
            "offers and your active partners' (GET /offers, /offers/from-partners)."
        },
    )


class CampaignFormSchema(FormSchema, MessageFields, SegmentFields):
    min_lifetime_cents = Dollars(maximum=LIFETIME_MAX, data_key="min_lifetime")
    max_lifetime_cents = Dollars(maximum=LIFETIME_MAX, data_key="max_lifetime")


class CampaignSendSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    scheduled_for = ma.fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={"description": "When to send (with its offset); omitted or past: now."},
    )


class CampaignStatsSchema(ma.Schema):
    total = ma.fields.Integer()
    queued = ma.fields.Integer()
    sent = ma.fields.Integer()
    failed = ma.fields.Integer()
    skipped = ma.fields.Integer()
    cancelled = ma.fields.Integer()


class CampaignOutSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    subject = ma.fields.String()
    body = ma.fields.String()
    segment = ma.fields.Dict()
    offer_ids = ma.fields.List(ma.fields.Integer())
    status = ma.fields.String()
    scheduled_for = ma.fields.AwareDateTime(allow_none=True)
    started_at = ma.fields.AwareDateTime(allow_none=True)
    finished_at = ma.fields.AwareDateTime(allow_none=True)
    recipients_total = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime()


class CampaignResultsSchema(ma.Schema):
    unsubscribed = ma.fields.Integer(
        metadata={"description": "Customers who unsubscribed with the link in its email."}
    )
    said_yes = ma.fields.Integer(metadata={"description": "Customers who said yes to an offer."})
    referrals_made = ma.fields.Integer(
        metadata={"description": "Referrals to partners their yes made."}
    )
    referrals_accepted = ma.fields.Integer()
    won = ma.fields.Integer(metadata={"description": "Partner referrals and own offers won."})
    revenue_cents = ma.fields.Integer(metadata={"description": "Value of the jobs won."})
    own_revenue_cents = ma.fields.Integer(metadata={"description": "Of it, your own sales."})
    commission_cents = ma.fields.Integer(metadata={"description": "Commissions you earn."})


class CampaignWithStatsSchema(CampaignOutSchema):
    stats = ma.fields.Nested(CampaignStatsSchema)
    results = ma.fields.Nested(CampaignResultsSchema)


class SegmentSampleSchema(ma.Schema):
    name = ma.fields.String()
    email = ma.fields.String()
    last_job_date = ma.fields.Date(allow_none=True)


class SegmentPreviewSchema(ma.Schema):
    matched = ma.fields.Integer(metadata={"description": "Customers in the segment."})
    permitted = ma.fields.Integer(metadata={"description": "Of them, those you may email."})
    sample = ma.fields.List(ma.fields.Nested(SegmentSampleSchema))
    problem = ma.fields.String(metadata={"description": "Why nothing would be sent, if so."})


def segment_of(data: dict[str, Any]) -> dict[str, Any]:
    """The segment's keys of a loaded form or API body."""
    keys = (
        "trades",
        "last_job_from",
        "last_job_to",
        "min_lifetime_cents",
        "max_lifetime_cents",
        "zip_code",
        "radius_miles",
    )
    return {k: data[k] for k in keys if k in data}


# --- Follow-up rules ------------------------------------------------------------------------

DAYS_RANGE = ma.validate.Range(min=1, max=365, error="Give a number of days from 1 to 365.")
HOUR_RANGE = ma.validate.Range(min=0, max=23, error="Give an hour from 0 to 23.")


class FollowUpFields(MessageFields):
    days_after = ma.fields.Integer(
        required=True,
        validate=DAYS_RANGE,
        error_messages={"required": "Give the number of days after the job."},
        metadata={"description": "Days after the job's date (1 to 365)."},
    )
    trade = ma.fields.String(
        load_default="",
        validate=ma.validate.Length(max=60),
        metadata={"description": "Only jobs of this trade; empty for every job."},
    )
    send_hour = ma.fields.Integer(
        load_default=10,
        validate=HOUR_RANGE,
        metadata={"description": "The hour it sends, in your business's time zone (0 to 23)."},
    )


class FollowUpInSchema(FollowUpFields):
    class Meta:
        unknown = ma.RAISE

    # JSON gives numbers: 2.5 or 1e-42 is not an hour (the page's form sends text).
    days_after = ma.fields.Integer(
        strict=True,
        required=True,
        validate=DAYS_RANGE,
        error_messages={"required": "Give the number of days after the job."},
        metadata={"description": "Days after the job's date (1 to 365)."},
    )
    send_hour = ma.fields.Integer(
        strict=True,
        load_default=10,
        validate=HOUR_RANGE,
        metadata={"description": "The hour it sends, in your business's time zone (0 to 23)."},
    )

    offer_ids = ma.fields.List(
        ma.fields.Integer(strict=True),
        load_default=list,
        validate=ma.validate.Length(max=20),
        metadata={
            "description": "Offers each email carries as a personal link: your own current "
            "offers and your active partners' (GET /offers, /offers/from-partners)."
        },
    )


class FollowUpPatchSchema(FollowUpInSchema):
    """PATCH /follow-ups/<id>: only the fields sent change; an unknown field
    is an error naming it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("partial", True)
        super().__init__(**kwargs)
        for field in self.fields.values():  # omitted means unchanged, never a default
            field.load_default = ma.missing


class FollowUpFormSchema(FormSchema, FollowUpFields):
    pass


class FollowUpCountsSchema(ma.Schema):
    total = ma.fields.Integer()
    sent = ma.fields.Integer()
    skipped = ma.fields.Integer(metadata={"description": "No permission, unsubscribed, erased..."})
    failed = ma.fields.Integer()


class FollowUpOutSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    days_after = ma.fields.Integer()
    trade = ma.fields.String()
    subject = ma.fields.String()
    body = ma.fields.String()
    offer_ids = ma.fields.List(ma.fields.Integer())
    send_hour = ma.fields.Integer()
    active = ma.fields.Boolean()
    created_at = ma.fields.AwareDateTime()
    updated_at = ma.fields.AwareDateTime(allow_none=True)


class FollowUpWithStatsSchema(FollowUpOutSchema):
    counts = ma.fields.Nested(FollowUpCountsSchema)
    results = ma.fields.Nested(CampaignResultsSchema)
