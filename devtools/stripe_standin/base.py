"""What every stand-in resource shares: the store, errors, params, export, lists.

Resources live in localstripe's in-memory `store` (keys "object:id") beside
localstripe's own customers and payment methods, so one reset clears both and
`expand[]` can reach either kind.
"""

from __future__ import annotations

import contextvars
import copy
import re
import time
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from localstripe import resources as ls
from localstripe.errors import UserError

# localstripe pickles the whole store to /tmp on every write: slow, and shared
# between processes. The stand-in keeps everything in memory only.
ls.store.dump_to_disk = lambda: None

store = ls.store

# The version stripe-python 16 pins; events claim it so the app can check it.
API_VERSION = "2026-10-28.endive"

# Set per API request so events can say which request (and key) caused them.
current_request: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "current_request", default=None
)


class Site:
    """Where the stand-in is reachable; hosted pages' URLs start with it."""

    base_url = "http://127.0.0.1:8420"


site = Site()


def now() -> int:
    return int(time.time())


def random_id(length: int = 24) -> str:
    return ls.random_id(length)


class StripeError(Exception):
    """An error answered in Stripe's shape: {"error": {"type", "code", "message", ...}}.

    `saved` is False for parameter validation errors: like Stripe, those are
    not stored under an idempotency key, so a corrected retry can run.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        saved: bool = True,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.saved = saved
        self.body: dict[str, Any] = {"type": type, "message": message}
        if code:
            self.body["code"] = code
        if param:
            self.body["param"] = param
        self.body.update(extra)

    def to_json(self) -> dict[str, Any]:
        return {"error": self.body}


def invalid_param(param: str, message: str | None = None) -> StripeError:
    return StripeError(
        400,
        message or f"Invalid value for {param}.",
        code="parameter_invalid",
        param=param,
        saved=False,
    )


def missing_param(param: str) -> StripeError:
    return StripeError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param, saved=False
    )


def no_such(object_name: str, object_id: str, param: str | None = None) -> StripeError:
    return StripeError(
        404,
        f"No such {object_name.replace('_', ' ')}: '{object_id}'",
        code="resource_missing",
        param=param or "id",
    )


def from_localstripe_error(error: UserError) -> StripeError:
    """localstripe's UserError, reshaped: 404s gain Stripe's resource_missing code."""
    body = dict(error.body["error"])
    message = body.pop("message", "Bad request")
    kind = body.pop("type", "invalid_request_error")
    if error.code == 404:
        body.setdefault("code", "resource_missing")
    if error.code == 402:
        kind = "card_error"
    return StripeError(error.code, message, type=kind, **body)


# --- params (stripe-python form-encodes everything as strings) ---------------


def as_int(value: Any, param: str, *, minimum: int | None = None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid_param(param, f"Invalid integer: {value}") from None
    if minimum is not None and number < minimum:
        raise invalid_param(param, f"{param} must be at least {minimum}.")
    return number


def as_optional_int(value: Any, param: str, *, minimum: int | None = None) -> int | None:
    return None if value in (None, "") else as_int(value, param, minimum=minimum)


def as_bool(value: Any, param: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "True"):
        return True
    if value in ("false", "False", None, ""):
        return False
    raise invalid_param(param, f"Invalid boolean: {value}")


def as_metadata(value: Any) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise invalid_param("metadata", "Invalid metadata: must be a hash.")
    return {str(key): str(val) for key, val in value.items()}


def merge_metadata(current: dict[str, str], update: Any) -> dict[str, str]:
    """Stripe's rule: keys in the update are set; an empty value deletes the key."""
    if update == "":
        return {}
    merged = dict(current)
    for key, val in as_metadata(update).items():
        if val == "":
            merged.pop(key, None)
        else:
            merged[key] = val
    return merged


def reject_unknown(params: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise StripeError(
            400,
            f"Received unknown parameter: {unknown[0]}",
            code="parameter_unknown",
            param=unknown[0],
            saved=False,
        )


def proportion(total: int, part: int, whole: int) -> int:
    """total * part / whole, rounded half-up to the cent (the one rounding rule)."""
    if whole <= 0:
        return 0
    exact = Decimal(total) * Decimal(part) / Decimal(whole)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- resources ---------------------------------------------------------------


class Resource(ls.StripeObject):
    """A stand-in resource: stored on creation, exported from its public attributes.

    Methods must start with "_" (localstripe's convention): everything public
    is part of the JSON.
    """

    object: ClassVar[str]
    _id_prefix: ClassVar[str]
    _computed: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        self.object = type(self).object
        self.created = now()
        self.livemode = False

    @classmethod
    def _get(cls, object_id: str, param: str = "id") -> Any:
        found = store.get(f"{cls.object}:{object_id}")
        if found is None:
            raise no_such(cls.object, object_id, param)
        return found

    @classmethod
    def _all(cls) -> list[Any]:
        """Newest first, as Stripe lists them."""
        prefix = cls.object + ":"
        return [value for key, value in reversed(store.items()) if key.startswith(prefix)]

    def _export(self, expand: list[str] | None = None) -> dict[str, Any]:
        data = {
            key: copy.deepcopy(val) for key, val in vars(self).items() if not key.startswith("_")
        }
        for name in self._computed:
            data[name] = copy.deepcopy(getattr(self, name))
        return expand_paths(data, expand)


# Longest prefix first, so "trr_" is not read as "tr_".
_OBJECT_BY_PREFIX = sorted(
    {
        "acct_": "account",
        "ch_": "charge",
        "pi_": "payment_intent",
        "pm_": "payment_method",
        "seti_": "setup_intent",
        "cus_": "customer",
        "tr_": "transfer",
        "trr_": "transfer_reversal",
        "fee_": "application_fee",
        "fr_": "fee_refund",
        "re_": "refund",
        "txn_": "balance_transaction",
        "dp_": "dispute",
        "cs_test_": "checkout.session",
        "evt_": "event",
        "card_": "card",
        "src_": "source",
        "prod_": "product",
    }.items(),
    key=lambda item: -len(item[0]),
)


def find_by_id(object_id: str) -> Any | None:
    for prefix, object_name in _OBJECT_BY_PREFIX:
        if object_id.startswith(prefix):
            return store.get(f"{object_name}:{object_id}")
    return None


def expand_paths(data: dict[str, Any], expand: Any) -> dict[str, Any]:
    """Replace ids by objects along each dotted path of `expand[]`."""
    if not expand:
        return data
    paths = [expand] if isinstance(expand, str) else list(expand)
    for path in paths:
        _expand_one(data, path.split("."), path)
    return data


def _expand_one(node: Any, parts: list[str], path: str) -> None:
    if isinstance(node, list):
        for item in node:
            _expand_one(item, parts, path)
        return
    if not isinstance(node, dict) or not parts:
        return
    head, rest = parts[0], parts[1:]
    if head == "data" and node.get("object") == "list":
        _expand_one(node["data"], rest, path)
        return
    if head not in node:
        raise StripeError(
            400,
            f"This property cannot be expanded ({path}).",
            param="expand",
            saved=False,
        )
    value = node[head]
    if isinstance(value, str):
        target = find_by_id(value)
        if target is not None:
            value = node[head] = target._export()
    _expand_one(value, rest, path)


def export(obj: Any, expand: Any = None) -> dict[str, Any]:
    if isinstance(obj, dict):
        return expand_paths(copy.deepcopy(obj), expand)
    return expand_paths(obj._export(), expand)


def list_object(
    url: str,
    items: list[Any],
    *,
    limit: Any = None,
    starting_after: str | None = None,
    ending_before: str | None = None,
    expand: Any = None,
) -> dict[str, Any]:
    """A page of a newest-first list, cut like Stripe's cursor pagination."""
    size = 10 if limit in (None, "") else as_int(limit, "limit", minimum=1)
    size = min(size, 100)
    start = 0
    ids = [item.id for item in items]
    if starting_after:
        if starting_after not in ids:
            raise no_such("object", starting_after, "starting_after")
        start = ids.index(starting_after) + 1
    end = start + size
    if ending_before:
        if ending_before not in ids:
            raise no_such("object", ending_before, "ending_before")
        end = ids.index(ending_before)
        start = max(0, end - size)
    page = items[start:end]
    item_expand = [path[len("data.") :] for path in (expand or []) if path.startswith("data.")]
    return {
        "object": "list",
        "url": url,
        "has_more": end < len(items) if not ending_before else start > 0,
        "data": [export(item, item_expand) for item in page],
    }


_CLAUSE = re.compile(
    r"""^\s*(?P<field>metadata\[(?P<q>['"])(?P<key>.+?)(?P=q)\]|[a-z_]+)\s*:\s*"""
    r"""(?:(?P<vq>['"])(?P<quoted>.*?)(?P=vq)|(?P<bare>\S+))\s*$"""
)


def search_object(url: str, items: list[Any], query: Any, limit: Any = None) -> dict[str, Any]:
    """Stripe's search for the simple forms: metadata['k']:'v' and field:'v', joined by AND."""
    if not query:
        raise missing_param("query")
    matchers = []
    for clause in re.split(r"\s+AND\s+", str(query), flags=re.IGNORECASE):
        match = _CLAUSE.match(clause)
        if not match:
            raise StripeError(
                400,
                f"The stand-in understands only field:'value' and metadata['key']:'value' "
                f"clauses joined by AND; got: {clause!r}",
                param="query",
                saved=False,
            )
        wanted = match["quoted"] if match["quoted"] is not None else match["bare"]
        if match["key"] is not None:
            matchers.append(lambda obj, k=match["key"], v=wanted: obj.metadata.get(k) == v)
        else:
            matchers.append(lambda obj, f=match["field"], v=wanted: str(getattr(obj, f, None)) == v)
    found = [item for item in items if all(matcher(item) for matcher in matchers)]
    size = 10 if limit in (None, "") else min(as_int(limit, "limit", minimum=1), 100)
    return {
        "object": "search_result",
        "url": url,
        "has_more": len(found) > size,
        "next_page": None,
        "total_count": len(found),
        "data": [export(item) for item in found[:size]],
    }
