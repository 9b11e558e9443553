"""The hosted pages Stripe would serve (onboarding, checkout) and a test dashboard.

Plain HTML forms, no scripts, no external assets. Each action also has a JSON
twin under /_standin/ so tests can drive a flow without a browser: a form post
(application/x-www-form-urlencoded) gets a 303 back to the page, anything
else gets JSON.
"""

from __future__ import annotations

from html import escape
from typing import Any

from aiohttp import web

from .api import json_response
from .base import StripeError, store
from .cards import PAYMENT_PAGE_CARDS, SETUP_PAGE_CARDS, TEST_CARDS, card_for_number
from .checkout import CheckoutSession
from .connect import Account, AccountLink
from .disputes import Dispute
from .payments import Charge, PaymentIntent

routes = web.RouteTableDef()

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 56rem; margin: 2rem auto; padding: 0 1rem;
       color: #1a1f36; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.banner, .error { padding: .5rem .75rem; border-radius: 6px; }
.banner { background: #fff4e5; border: 1px solid #f5a623; }
.error { background: #fde8e8; border: 1px solid #e02424; }
.amount { font-size: 2rem; font-weight: 600; margin: 1rem 0; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border-bottom: 1px solid #e3e8ee; padding: .35rem .5rem; text-align: left; }
button { padding: .45rem .9rem; margin: .25rem .25rem .25rem 0; cursor: pointer; }
label { display: block; margin: .35rem 0; }
form.inline { display: inline; }
"""


def html_page(title: str, body: str, status: int = 200) -> web.Response:
    document = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<p class='banner'>Local Stripe stand-in (test mode): no real money moves.</p>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=document, status=status, content_type="text/html")


def see_other(url: str) -> web.Response:
    return web.Response(status=303, headers={"Location": url})


def money(amount: int | None, currency: str | None) -> str:
    if amount is None:
        return ""
    return f"{amount / 100:,.2f} {(currency or '').upper()}"


def from_a_form(request: web.Request) -> bool:
    return request.content_type == "application/x-www-form-urlencoded"


async def json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    if from_a_form(request):
        return dict(await request.post())
    try:
        body = await request.json()
    except ValueError:
        raise StripeError(400, "Send a JSON object.") from None
    return body if isinstance(body, dict) else {}


# --- onboarding -------------------------------------------------------------------


def _link(token: str) -> AccountLink | None:
    return store.get(f"account_link:{token}")


@routes.get("/_standin/onboarding/{token}")
async def onboarding_page(request: web.Request) -> web.Response:
    link = _link(request.match_info["token"])
    if link is None:
        return html_page("Link not found", "<p>This onboarding link does not exist.</p>", 404)
    if not link._usable:
        return see_other(link._refresh_url)
    account = Account._get(link._account)
    due = "".join(f"<li>{escape(item)}</li>" for item in account.requirements["currently_due"])
    body = f"""
      <p>Connected account <code>{escape(account.id)}</code>
         ({escape(account.email or "no email")}), country {escape(account.country)}.</p>
      <p>Stripe would now collect:</p><ul>{due or "<li>nothing: already complete</li>"}</ul>
      <form method="post">
        <button type="submit" name="action" value="submit">Agree and submit</button>
        <button type="submit" name="action" value="later">Save and finish later</button>
      </form>"""
    return html_page("Set up your Express account", body)


@routes.post("/_standin/onboarding/{token}")
async def onboarding_submit(request: web.Request) -> web.Response:
    link = _link(request.match_info["token"])
    if link is None:
        return html_page("Link not found", "<p>This onboarding link does not exist.</p>", 404)
    if not link._usable:
        return see_other(link._refresh_url)
    link._used = True  # account links are single-use
    form = await request.post()
    if form.get("action") == "submit":
        Account._get(link._account)._complete_onboarding()
    return see_other(link._return_url)


@routes.post("/_standin/accounts/{id}/complete_onboarding")
async def complete_onboarding(request: web.Request) -> web.Response:
    account = Account._get(request.match_info["id"])
    account._complete_onboarding()
    if from_a_form(request):
        return see_other("/_standin/dashboard")
    return json_response(account._export())


# --- checkout -----------------------------------------------------------------------


@routes.get("/_standin/checkout/{id}")
async def checkout_page(request: web.Request) -> web.Response:
    session = _session_or_none(request.match_info["id"])
    if session is None:
        return html_page("Checkout not found", "<p>This checkout session does not exist.</p>", 404)
    return _render_checkout(session)


@routes.post("/_standin/checkout/{id}")
async def checkout_submit(request: web.Request) -> web.Response:
    session = _session_or_none(request.match_info["id"])
    if session is None:
        return html_page("Checkout not found", "<p>This checkout session does not exist.</p>", 404)
    form = await request.post()
    try:
        session._pay_with(card_for_number(str(form.get("card", ""))))
    except StripeError as error:
        return _render_checkout(session, error=error.body.get("message"), status=402)
    return see_other(session._redirect_url)


@routes.post("/_standin/checkout/{id}/complete")
async def checkout_complete(request: web.Request) -> web.Response:
    """JSON twin of the page: {"card": "4242424242424242"}."""
    session = CheckoutSession._get(request.match_info["id"], "session")
    body = await json_body(request)
    try:
        session._pay_with(card_for_number(str(body.get("card", "4242424242424242"))))
    except StripeError as error:
        if error.status != 402:
            raise
        return json_response({**error.to_json(), "session": session._export()}, status=error.status)
    return json_response({"session": session._export(), "redirect_url": session._redirect_url})


def _session_or_none(session_id: str) -> CheckoutSession | None:
    try:
        return CheckoutSession._get(session_id)
    except StripeError:
        return None


def _render_checkout(
    session: CheckoutSession, error: str | None = None, status: int = 200
) -> web.Response:
    if session.status != "open":
        body = f"<p>This checkout session is <strong>{escape(session.status)}</strong>.</p>"
        if session.status == "complete":
            body += f"<p><a href='{escape(session._redirect_url)}'>Return to the merchant</a></p>"
        elif session.cancel_url:
            body += f"<p><a href='{escape(session._cancel_url)}'>Return to the merchant</a></p>"
        return html_page("Checkout", body)
    if session.mode == "payment":
        lines = "".join(
            f"<tr><td>{escape(item['description'])}</td><td>{item['quantity']}</td>"
            f"<td>{money(item['amount_total'], item['currency'])}</td></tr>"
            for item in session._line_items
        )
        summary = (
            f"<div class='amount' data-amount='{session.amount_total}'>"
            f"{money(session.amount_total, session.currency)}</div>"
            f"<table><tr><th>Item</th><th>Qty</th><th>Amount</th></tr>{lines}</table>"
        )
        numbers, action = PAYMENT_PAGE_CARDS, "Pay"
    else:
        summary = "<p>Save a card for future payments. You will not be charged now.</p>"
        numbers, action = SETUP_PAGE_CARDS, "Save card"
    cards = "".join(
        f"<label><input type='radio' name='card' value='{number}'"
        f"{' checked' if index == 0 else ''}> {number} &mdash; {escape(TEST_CARDS[number].label)}"
        f"</label>"
        for index, number in enumerate(numbers)
    )
    problem = f"<p class='error' role='alert'>{escape(error)}</p>" if error else ""
    cancel = (
        f"<p><a href='{escape(session._cancel_url)}'>Cancel</a></p>" if session.cancel_url else ""
    )
    body = f"""{summary}{problem}
      <form method="post"><fieldset><legend>Test card</legend>{cards}</fieldset>
        <button type="submit">{action}</button></form>{cancel}"""
    title = "Pay" if session.mode == "payment" else "Save a card"
    return html_page(title, body, status)


# --- disputes and the dashboard --------------------------------------------------------


@routes.post("/_standin/charges/{id}/dispute")
async def open_dispute(request: web.Request) -> web.Response:
    body = await json_body(request)
    dispute = Dispute._open(
        request.match_info["id"],
        str(body.get("reason") or "fraudulent"),
        inquiry=bool(body.get("inquiry")),
    )
    if from_a_form(request):
        return see_other("/_standin/dashboard")
    return json_response(dispute._export())


@routes.post("/_standin/disputes/{id}/close")
async def close_dispute(request: web.Request) -> web.Response:
    body = await json_body(request)
    dispute = Dispute._get(request.match_info["id"], "dispute")
    dispute._close(str(body.get("outcome", "")))
    if from_a_form(request):
        return see_other("/_standin/dashboard")
    return json_response(dispute._export())


@routes.get("/_standin/dashboard")
async def dashboard(request: web.Request) -> web.Response:
    return html_page(
        "Stand-in dashboard", _accounts_table() + _payments_table() + _disputes_table()
    )


def _post_button(url: str, label: str, **fields: str) -> str:
    hidden = "".join(
        f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in fields.items()
    )
    return (
        f"<form class='inline' method='post' action='{escape(url)}'>{hidden}"
        f"<button type='submit'>{escape(label)}</button></form>"
    )


def _accounts_table() -> str:
    rows = "".join(
        f"<tr><td><code>{escape(a.id)}</code></td><td>{escape(a.email or '')}</td>"
        f"<td>{a.charges_enabled}</td><td>{a.payouts_enabled}</td><td>{a.details_submitted}</td>"
        f"<td>{'' if a.details_submitted else _post_button(f'/_standin/accounts/{a.id}/complete_onboarding', 'Complete onboarding')}</td></tr>"  # noqa: E501
        for a in Account._all()
    )
    return (
        "<h2>Connected accounts</h2><table><tr><th>Account</th><th>Email</th>"
        "<th>Charges</th><th>Payouts</th><th>Details</th><th></th></tr>"
        f"{rows}</table>"
    )


def _payments_table() -> str:
    rows = []
    for charge in Charge._all():
        intent = store.get(f"payment_intent:{charge.payment_intent}")
        action = ""
        if charge.status == "succeeded" and not charge.dispute and not charge.refunded:
            action = _post_button(f"/_standin/charges/{charge.id}/dispute", "Open dispute")
        rows.append(
            f"<tr><td><code>{escape(charge.payment_intent or '')}</code>"
            f"<br><code>{escape(charge.id)}</code></td>"
            f"<td>{escape(intent.status if isinstance(intent, PaymentIntent) else '')}</td>"
            f"<td>{money(charge.amount, charge.currency)}</td>"
            f"<td>{money(charge.amount_refunded, charge.currency)}</td>"
            f"<td>{escape(charge.destination or '')}</td>"
            f"<td>{'yes' if charge.disputed else 'no'}</td><td>{action}</td></tr>"
        )
    return (
        "<h2>Payments</h2><table><tr><th>PaymentIntent / charge</th><th>Status</th>"
        "<th>Amount</th><th>Refunded</th><th>Destination</th><th>Disputed</th><th></th></tr>"
        f"{''.join(rows)}</table>"
    )


def _disputes_table() -> str:
    rows = []
    for dispute in Dispute._all():
        actions = ""
        if dispute.status == "needs_response":
            close = f"/_standin/disputes/{dispute.id}/close"
            actions = _post_button(close, "Close: won", outcome="won") + _post_button(
                close, "Close: lost", outcome="lost"
            )
        elif dispute.status == "warning_needs_response":
            close = f"/_standin/disputes/{dispute.id}/close"
            actions = _post_button(close, "Close inquiry", outcome="warning_closed") + _post_button(
                close, "Prevented", outcome="prevented"
            )
        lost = money(dispute.amount, dispute.currency) if dispute.status == "lost" else ""
        rows.append(
            f"<tr><td><code>{escape(dispute.id)}</code></td><td><code>{escape(dispute.charge)}</code></td>"
            f"<td>{money(dispute.amount, dispute.currency)}</td><td>{escape(dispute.reason)}</td>"
            f"<td>{escape(dispute.status)}</td><td>{lost}</td><td>{actions}</td></tr>"
        )
    return (
        "<h2>Disputes</h2><table><tr><th>Dispute</th><th>Charge</th><th>Amount</th>"
        "<th>Reason</th><th>Status</th><th>Lost</th><th></th></tr>"
        f"{''.join(rows)}</table>"
    )
