"""Connect: Express accounts and account links with a local onboarding page."""

from __future__ import annotations

from typing import Any

from .base import (
    Resource,
    StripeError,
    as_bool,
    as_metadata,
    invalid_param,
    merge_metadata,
    missing_param,
    now,
    reject_unknown,
    site,
)
from .events import publish

ACCOUNT_LINK_LIFETIME_SECONDS = 300

# What Stripe asks an individual Express account for before it can be paid.
ONBOARDING_REQUIREMENTS = [
    "business_profile.mcc",
    "business_profile.url",
    "business_type",
    "external_account",
    "individual.dob.day",
    "individual.dob.month",
    "individual.dob.year",
    "individual.first_name",
    "individual.last_name",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]

CURRENCY_BY_COUNTRY = {"US": "usd", "GB": "gbp", "CA": "cad", "AU": "aud", "NZ": "nzd"}


class Account(Resource):
    object = "account"
    _id_prefix = "acct_"
    _creatable = (
        "type",
        "country",
        "email",
        "capabilities",
        "business_profile",
        "business_type",
        "metadata",
        "default_currency",
        "controller",
        "settings",
        "tos_acceptance",
    )
    _updatable = ("email", "capabilities", "business_profile", "business_type", "metadata")

    def __init__(self, params: dict[str, Any]) -> None:
        reject_unknown(params, self._creatable)
        kind = params.get("type")
        if kind is None and not params.get("controller"):
            raise missing_param("type")
        if kind not in (None, "express", "standard", "custom"):
            raise invalid_param("type")
        country = str(params.get("country") or "US").upper()
        capabilities = params.get("capabilities") or {}
        if not isinstance(capabilities, dict):
            raise invalid_param("capabilities")
        super().__init__()
        self.business_profile = {
            "mcc": None,
            "name": None,
            "product_description": None,
            "support_email": None,
            "url": None,
            **(params.get("business_profile") or {}),
        }
        self.business_type = params.get("business_type")
        self.capabilities = dict.fromkeys(capabilities, "inactive")
        self.charges_enabled = False
        self.controller = {
            "type": "application",
            "is_controller": True,
            "requirement_collection": "stripe",
            "stripe_dashboard": {"type": "express"},
        }
        self.country = country
        self.default_currency = params.get("default_currency") or CURRENCY_BY_COUNTRY.get(
            country, "eur"
        )
        self.details_submitted = False
        self.email = params.get("email")
        self.external_accounts = {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/accounts/{self.id}/external_accounts",
        }
        self.metadata = as_metadata(params.get("metadata"))
        self.payouts_enabled = False
        self.requirements = {
            "alternatives": [],
            "current_deadline": None,
            "currently_due": list(ONBOARDING_REQUIREMENTS),
            "disabled_reason": "requirements.past_due",
            "errors": [],
            "eventually_due": list(ONBOARDING_REQUIREMENTS),
            "past_due": list(ONBOARDING_REQUIREMENTS),
            "pending_verification": [],
        }
        self.settings = {
            "payouts": {"schedule": {"interval": "daily", "delay_days": 2}},
            "dashboard": {"display_name": None, "timezone": "Etc/UTC"},
        }
        self.tos_acceptance = {"date": None, "ip": None, "user_agent": None}
        self.type = kind or "express"

    @property
    def _can_receive_funds(self) -> bool:
        """Stripe's rule for a destination: its transfers capability is active."""
        return self.capabilities.get("transfers") == "active"

    def _update(self, params: dict[str, Any]) -> None:
        reject_unknown(params, self._updatable)
        before = self._export()
        for key, value in params.items():
            if key == "metadata":
                self.metadata = merge_metadata(self.metadata, value)
            elif key == "business_profile":
                self.business_profile.update(value or {})
            elif key == "capabilities":
                for name, wanted in (value or {}).items():
                    if as_bool((wanted or {}).get("requested", True), f"capabilities[{name}]"):
                        self.capabilities.setdefault(name, "inactive")
                    else:  # no longer requested: Stripe turns it off
                        self.capabilities[name] = "inactive"
            else:
                setattr(self, key, value)
        self._announce_change(before)

    def _complete_onboarding(self) -> None:
        """What happens when the user presses "Agree and submit" on the onboarding page."""
        before = self._export()
        self.business_type = self.business_type or "individual"
        self.business_profile["mcc"] = self.business_profile["mcc"] or "1711"
        self.business_profile["url"] = self.business_profile["url"] or "https://example.com"
        self.capabilities = dict.fromkeys(self.capabilities, "active") or {
            "card_payments": "active",
            "transfers": "active",
        }
        self.charges_enabled = True
        self.payouts_enabled = True
        self.details_submitted = True
        self.requirements.update(
            currently_due=[], eventually_due=[], past_due=[], disabled_reason=None
        )
        self.tos_acceptance = {"date": now(), "ip": "127.0.0.1", "user_agent": "stand-in"}
        self._announce_change(before)

    def _announce_change(self, before: dict[str, Any]) -> None:
        after = self._export()
        changed = {key: val for key, val in before.items() if after.get(key) != val}
        if changed:
            publish("account.updated", self, account=self.id, previous_attributes=changed)

    @classmethod
    def _receiving(cls, account_id: str, param: str) -> Account:
        """The destination of money; fails unless its onboarding is complete."""
        account = cls._get(account_id, param)
        if not account._can_receive_funds:
            raise StripeError(
                400,
                "Your destination account needs to have at least one of the following "
                "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                code="insufficient_capabilities_for_transfer",
                param=param,
                saved=False,  # checked before any work, so a retry after onboarding can run
            )
        return account


class AccountLink(Resource):
    """A one-use link to the onboarding page. Its id is the token in the URL."""

    object = "account_link"
    _id_prefix = "link_"

    def __init__(self, params: dict[str, Any]) -> None:
        reject_unknown(
            params,
            ("account", "refresh_url", "return_url", "type", "collect", "collection_options"),
        )
        for name in ("account", "type"):
            if not params.get(name):
                raise missing_param(name)
        if params["type"] not in ("account_onboarding", "account_update"):
            raise invalid_param("type")
        Account._get(params["account"], "account")
        super().__init__()
        self.expires_at = self.created + ACCOUNT_LINK_LIFETIME_SECONDS
        self.url = f"{site.base_url}/_standin/onboarding/{self.id}"
        self._account = params["account"]
        self._refresh_url = params.get("refresh_url") or site.base_url + "/_standin/dashboard"
        self._return_url = params.get("return_url") or site.base_url + "/_standin/dashboard"
        self._used = False

    @property
    def _usable(self) -> bool:
        return not self._used and now() < self.expires_at

    def _export(self, expand: list[str] | None = None) -> dict[str, Any]:
        return {
            "object": self.object,
            "created": self.created,
            "expires_at": self.expires_at,
            "url": self.url,
        }
