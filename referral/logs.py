"""Logging: LOG_LEVEL for the app's loggers, and no personal data or secret in
any log line, whoever writes it.

The app's own log statements name ids and kinds, never people. Libraries are
another matter: werkzeug's and gunicorn's access lines carry the emailed
links' tokens (/verify/<token>, /consent/<token>), and stripe-python's lines
carry URLs and, at DEBUG, whole request and response bodies (email addresses,
client secrets). So:

- stripe-python never logs below INFO, whatever LOG_LEVEL says: its DEBUG
  lines are bodies. (SQLAlchemy already keeps its loggers at WARNING unless
  DATABASE_ECHO asks for statements.)
- Every log record made in the process is redacted when it is made, by the
  record factory installed here: the one place redaction happens. A factory,
  not a logging.Filter, because a filter only sees what passes the logger or
  handler it is attached to, and the handlers belong to whoever runs the app
  (gunicorn, `referral worker`, a test's log capture) and may come later.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask

# What is replaced, and by what. Secrets with a known prefix come first, so an
# email-like or token-like piece of one is not left half-redacted.
REDACTIONS: list[tuple[re.Pattern[str], str]] = [
    # Stripe secret and restricted keys, and our API keys (rk_live_...).
    (re.compile(r"\b(?:sk|rk)_(?:live|test)_[\w-]+"), "[secret]"),
    (re.compile(r"\bwhsec_[\w+/=-]+"), "[secret]"),
    # Client secrets of PaymentIntents, SetupIntents and Checkout Sessions.
    (re.compile(r"\b[a-z]+_\w+?_secret_[\w-]+"), "[secret]"),
    # Email addresses, also URL-encoded (%40) as in form-encoded bodies.
    (re.compile(r"[\w.+%-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+"), "[email]"),
    # Phone numbers as stored (E.164), also URL-encoded (%2B).
    (re.compile(r"(?:\+|%2B)[1-9]\d{6,14}\b", re.IGNORECASE), "[phone]"),
    # Tokens: a path segment or a value of 32 or more URL-safe characters (the
    # emailed links' tokens are 43). Long names in paths go too; that is the price.
    (re.compile(r"(?<=[/=])[\w-]{32,}"), "[token]"),
]


def redact(text: str) -> str:
    """`text` with every email address, phone number, secret and token replaced."""
    for pattern, replacement in REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


_exception_formatter = logging.Formatter()


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the handler reports it as usual
        return
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        # Handlers use exc_text when it is set, so the traceback is redacted too.
        record.exc_text = redact(_exception_formatter.formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _install_redaction() -> None:
    """Redact every record as it is made (once per process)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts", False):
        return

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    redacting_factory.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(app: Flask) -> None:
    """LOG_LEVEL for the app's loggers, stripe-python no lower than INFO, and
    redaction of every record."""
    app_logger = logging.getLogger("referral")
    app_logger.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    if not logging.getLogger().handlers:
        # Nobody configured logging: gunicorn configures only its own loggers,
        # so the app's lines would be dropped (INFO) or printed bare by
        # logging's last resort. They go to stderr with a time and a name, at
        # LOG_LEVEL; other libraries' at WARNING and above. A process that
        # configured logging first (pytest, an operator's setup) keeps its own.
        logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    logging.getLogger("stripe").setLevel(max(app_logger.level, logging.INFO))
    _install_redaction()
