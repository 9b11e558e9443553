"""Deliver queued email: by SMTP, or into the local outbox (embedded default).

`send_email` is the handler of the "send_email" job. The app's wiring
(`referral.domains`) imports it, so every app (web, worker, CLI) knows it.
Other jobs that send email (marketing email, which checks permission first)
call `deliver`.

A payload may carry extra `headers` (List-Unsubscribe and the like). A hard
bounce (the server refused the recipient with a 5xx reply) is told to every
handler registered with `on_hard_bounce`: mail knows no domain, so the
customers domain registers the one that suppresses the address.
"""

from __future__ import annotations

import contextlib
import functools
import smtplib
import ssl
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any

from flask import current_app
from sqlalchemy import bindparam
from sqlmodel import Session, select

from referral.jobs.queue import job_handler
from referral.jobs.running import current_job
from referral.jobs.worker import PermanentJobError
from referral.mail.models import OutboxEmail
from referral.mail.services import SEND_EMAIL
from referral.restapi import paginate

SMTP_TIMEOUT_SECONDS = 30


class TemporaryDeliveryError(Exception):
    """The mail server said "not now": the job is retried with backoff."""


class HardBounce(PermanentJobError):
    """The mail server refused the recipient for good (SMTP 5xx)."""


# Called with (session, address, payload) when an address bounces for good.
HardBounceHandler = Callable[[Session, str, dict[str, Any]], None]
_HARD_BOUNCE_HANDLERS: list[HardBounceHandler] = []

# Headers a payload may not set: the delivery sets them itself.
RESERVED_HEADERS = frozenset(
    {"from", "to", "subject", "date", "message-id", "content-type", "mime-version"}
)


def on_hard_bounce(handler: HardBounceHandler) -> HardBounceHandler:
    """Register a handler for a hard bounce. It runs in the delivering job's
    session, which is committed before the job is recorded as dead."""
    if handler not in _HARD_BOUNCE_HANDLERS:
        _HARD_BOUNCE_HANDLERS.append(handler)
    return handler


@functools.lru_cache(maxsize=16)  # one sender in all, parsed for every email a job delivers
def sender_domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "referral.localhost"


def job_message_id(job_id: int, *, domain: str) -> str:
    """The Message-ID of the email a job delivers: the same on every attempt."""
    return f"<referral-job-{job_id}@{domain}>"


def message_id_for(payload: dict[str, Any], *, domain: str) -> str:
    """The Message-ID fixed when the email was queued, else one from the job id,
    so a retried delivery is recognisable as the same message."""
    if payload.get("message_id"):
        return str(payload["message_id"])
    job = current_job()
    if job is None:
        raise RuntimeError("send_email runs as a job: no job is running")
    return job_message_id(job.id, domain=domain)


def build_message(payload: dict[str, Any], *, sender: str, message_id: str) -> EmailMessage:
    """A text email, with an HTML alternative when the payload has one."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    for name, value in (payload.get("headers") or {}).items():
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"the payload may not set the {name} header")
        message[name] = " ".join(str(value).split())  # one line: no header injection
    message.set_content(payload["text"])
    if payload.get("html"):
        message.add_alternative(payload["html"], subtype="html")
    return message


# Built once: every email a job delivers to the outbox looks itself up first.
_STORED = select(OutboxEmail.id).where(OutboxEmail.message_id == bindparam("message_id"))


def store_in_outbox(*, session: Session, payload: dict[str, Any], message_id: str) -> None:
    """Keep the message in the outbox table, once per Message-ID."""
    already = session.exec(_STORED, params={"message_id": message_id}).first()
    if already is None:
        session.add(
            OutboxEmail(
                message_id=message_id,
                recipient=payload["to"],
                subject=payload["subject"],
                text_body=payload["text"],
                html_body=payload.get("html") or "",
            )
        )


def list_outbox_emails(*, session: Session, page: int, per_page: int) -> dict[str, Any]:
    """One page of the outbox, newest first, in the API's page envelope."""
    query = select(OutboxEmail).order_by(OutboxEmail.id.desc())  # type: ignore[union-attr]
    return paginate(session, query, page=page, per_page=per_page)


def _is_permanent(code: int) -> bool:
    return 500 <= code < 600


# The connection `kept_open` holds for the deliveries inside its block: a list
# so that the block's deliveries can open it on first use and replace it.
_KEPT: ContextVar[list[smtplib.SMTP] | None] = ContextVar("referral_kept_smtp", default=None)


@contextlib.contextmanager
def kept_open() -> Iterator[None]:
    """Deliver every message of the block over one SMTP connection (a campaign
    batch): a connection, its TLS handshake and its login cost more than the
    message, and mail servers throttle clients that connect for each one. The
    connection is opened by the first message (never, for the outbox) and
    replaced if the server drops it."""
    held: list[smtplib.SMTP] = []
    token = _KEPT.set(held)
    try:
        yield
    finally:
        _KEPT.reset(token)
        for smtp in held:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()


def _connect(config: dict[str, Any]) -> smtplib.SMTP:
    smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=SMTP_TIMEOUT_SECONDS)
    try:
        if config["MAIL_USE_STARTTLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _send_kept(message: EmailMessage, config: dict[str, Any], held: list[smtplib.SMTP]) -> None:
    """Send on the kept connection, opening it first if needed; a connection
    the server closed since the last message (idle timeout, a cap on messages
    per connection) is replaced once."""
    for attempt in (1, 2):
        if not held:
            held.append(_connect(config))
        try:
            held[0].send_message(message)
            return
        except smtplib.SMTPServerDisconnected:
            held.pop().close()
            if attempt == 2:
                raise


def send_by_smtp(message: EmailMessage, config: dict[str, Any]) -> None:
    """Hand the message to MAIL_SERVER, on the connection `kept_open` holds or
    on one of its own. A 5xx refusal raises PermanentJobError, a 4xx one
    TemporaryDeliveryError; neither message repeats the address. After a
    refusal the connection is still usable (smtplib resets the transaction)."""
    try:
        held = _KEPT.get()
        if held is not None:
            _send_kept(message, config, held)
        else:
            with _connect(config) as smtp:
                smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _ in exc.recipients.values()})
        if codes and all(_is_permanent(code) for code in codes):
            reason = f"the mail server refused the recipient (SMTP {', '.join(map(str, codes))})"
            raise HardBounce(reason) from None
        _raise_refusal("refused the recipient", codes)
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        what = "the sender" if isinstance(exc, smtplib.SMTPSenderRefused) else "the message"
        _raise_refusal(f"refused {what}", [exc.smtp_code])


def _raise_refusal(what: str, codes: list[int]) -> None:
    reason = f"the mail server {what} (SMTP {', '.join(map(str, codes))})"
    if codes and all(_is_permanent(code) for code in codes):
        raise PermanentJobError(reason) from None
    raise TemporaryDeliveryError(reason) from None


@job_handler(SEND_EMAIL)
def send_email(session: Session, payload: dict[str, Any]) -> None:
    """Send one queued email. A retry after a crash may send it twice by SMTP;
    the Message-ID stays the same, so mail clients can tell. The outbox keeps
    each Message-ID once."""
    deliver(session, payload)


def deliver(session: Session, payload: dict[str, Any]) -> None:
    """Deliver one email now (in a job). A hard bounce is told to the
    `on_hard_bounce` handlers, their writes committed, then raised (the job
    is dead: trying again cannot help)."""
    try:
        _deliver(session, payload)
    except HardBounce:
        for handler in _HARD_BOUNCE_HANDLERS:
            handler(session, payload["to"], payload)
        session.commit()
        raise


def _deliver(session: Session, payload: dict[str, Any]) -> None:
    config = current_app.config
    message_id = message_id_for(payload, domain=sender_domain(config["MAIL_SENDER"]))
    if config["MAIL_BACKEND"] == "outbox":
        store_in_outbox(session=session, payload=payload, message_id=message_id)
        return
    if config["MAIL_BACKEND"] != "smtp":
        # Retried, not dead: fixing the setting lets the queued mail go out.
        raise TemporaryDeliveryError(f"unknown MAIL_BACKEND {config['MAIL_BACKEND']!r}")
    message = build_message(payload, sender=config["MAIL_SENDER"], message_id=message_id)
    send_by_smtp(message, config)
