"""A batch of emails (a campaign's, a follow-up rule's) goes out over one SMTP
connection, which survives refusals and is replaced when the server drops it."""

from __future__ import annotations

import time
from email.message import EmailMessage

import pytest

from referral.jobs.worker import PermanentJobError
from referral.mail.delivery import HardBounce, kept_open, send_by_smtp
from tests.support.smtp import running_smtp_server


def config(port: int) -> dict[str, object]:
    return {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "MAIL_USE_STARTTLS": False,
        "MAIL_USERNAME": "",
        "MAIL_PASSWORD": "",
    }


def message(to: str) -> EmailMessage:
    built = EmailMessage()
    built["From"] = "Cool Air HVAC <hello@coolair.example.com>"
    built["To"] = to
    built["Subject"] = "A tune-up before summer"
    built.set_content("Book now.")
    return built


def test_messages_inside_the_block_share_one_connection_and_others_open_their_own() -> None:
    with running_smtp_server() as (inbox, port):
        with kept_open():
            for n in range(5):
                send_by_smtp(message(f"customer-{n}@example.com"), config(port))
        assert (len(inbox.messages), inbox.connections) == (5, 1)

        send_by_smtp(message("alone-1@example.com"), config(port))
        send_by_smtp(message("alone-2@example.com"), config(port))
        assert (len(inbox.messages), inbox.connections) == (7, 3)


def test_a_refused_recipient_fails_alone_and_the_connection_goes_on() -> None:
    with running_smtp_server() as (inbox, port):
        inbox.refuse("gone@example.com", "550 5.1.1 No such user")
        with kept_open():
            send_by_smtp(message("first@example.com"), config(port))
            with pytest.raises(HardBounce):
                send_by_smtp(message("gone@example.com"), config(port))
            with pytest.raises(PermanentJobError, match="SMTP 554"):
                inbox.refuse("bad@example.com", "554 5.7.1 Rejected")
                send_by_smtp(message("bad@example.com"), config(port))
            send_by_smtp(message("last@example.com"), config(port))
        assert [m["To"] for m in inbox.messages] == ["first@example.com", "last@example.com"]
        assert inbox.connections == 1


def test_a_connection_the_server_closed_is_replaced_and_the_message_still_sent() -> None:
    with running_smtp_server(idle_timeout=0.3) as (inbox, port):
        with kept_open():
            send_by_smtp(message("before@example.com"), config(port))
            time.sleep(0.8)  # the server closes the idle connection
            send_by_smtp(message("after@example.com"), config(port))
        assert [m["To"] for m in inbox.messages] == ["before@example.com", "after@example.com"]
        assert inbox.connections == 2


def test_an_unreachable_server_fails_the_message_as_before() -> None:
    with running_smtp_server() as (_inbox, port):
        pass  # stopped: nothing listens on the port any more
    with kept_open(), pytest.raises(OSError):
        send_by_smtp(message("pat@example.com"), config(port))
