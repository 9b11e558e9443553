"""Email leaves through SMTP from the job queue, or lands in the local outbox."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from markupsafe import escape
from sqlalchemy import update
from sqlmodel import Session, select

from referral.jobs.models import Job
from referral.jobs.queue import enqueue
from referral.jobs.worker import run_due_jobs
from referral.mail.models import OutboxEmail
from referral.mail.services import SEND_EMAIL, queue_email
from tests.support.jobs import run_jobs
from tests.support.mail import sent_emails
from tests.support.smtp import Inbox, free_port

LINK = "http://127.0.0.1:5000/verify/abc"


def queue_welcome(app: Flask, db: Session, to: str = "pat@example.com") -> Job:
    with app.app_context():
        job = queue_email(
            db,
            to=to,
            subject="Confirm your email address for Referral",
            template="verify_email",
            name="Pat",
            link=LINK,
            hours=48,
        )
    db.commit()
    return job


def make_due(db: Session) -> None:
    db.execute(update(Job).values(run_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    db.commit()


class TestSmtp:
    @pytest.fixture
    def app_overrides(self, smtp_server) -> dict[str, object]:  # type: ignore[no-untyped-def]
        _, port = smtp_server
        return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}

    def test_a_queued_email_is_delivered_to_the_smtp_server(
        self, app: Flask, db: Session, smtp_server: tuple[Inbox, int]
    ) -> None:
        inbox, _ = smtp_server
        job = queue_welcome(app, db)

        assert run_due_jobs(app) == 1

        [message] = inbox.to("pat@example.com")
        assert message["Subject"] == "Confirm your email address for Referral"
        assert message["From"] == app.config["MAIL_SENDER"]
        assert message["Message-ID"] == job.payload["message_id"]
        assert message.get_content_type() == "multipart/alternative"
        text = message.get_body(("plain",)).get_content()
        body = message.get_body(("html",)).get_content()
        assert LINK in text and f'href="{LINK}"' in body
        db.refresh(job)
        assert job.status == "done"
        assert db.exec(select(OutboxEmail)).all() == []  # SMTP mode keeps no copy

    def test_a_retried_delivery_keeps_its_message_id(
        self, app: Flask, db: Session, smtp_server: tuple[Inbox, int]
    ) -> None:
        inbox, _ = smtp_server
        inbox.refuse("pat@example.com", "451 4.3.0 Try again later")
        job = queue_welcome(app, db)

        run_due_jobs(app)
        db.refresh(job)
        assert (job.status, job.attempts) == ("queued", 1)
        assert "SMTP 451" in job.last_error and "pat@example.com" not in job.last_error
        assert inbox.messages == []

        make_due(db)
        run_due_jobs(app)

        db.refresh(job)
        [message] = inbox.to("pat@example.com")
        assert message["Message-ID"] == job.payload["message_id"]
        assert (job.status, job.attempts) == ("done", 2)

    def test_a_message_without_a_fixed_id_takes_one_from_its_job(
        self, app: Flask, db: Session, smtp_server: tuple[Inbox, int]
    ) -> None:
        inbox, _ = smtp_server
        job = enqueue(
            db, SEND_EMAIL, {"to": "pat@example.com", "subject": "Plain", "text": "Hello."}
        )
        db.commit()

        run_due_jobs(app)

        [message] = inbox.to("pat@example.com")
        assert message["Message-ID"] == f"<referral-job-{job.id}@referral.localhost>"
        assert message.get_content_type() == "text/plain"
        assert message.get_content().strip() == "Hello."

    def test_a_refused_recipient_is_dead_at_once_and_the_error_names_no_address(
        self, app: Flask, db: Session, smtp_server: tuple[Inbox, int]
    ) -> None:
        inbox, _ = smtp_server
        inbox.refuse("nobody@example.com", "550 5.1.1 No such user")
        job = queue_welcome(app, db, to="nobody@example.com")

        run_due_jobs(app)

        db.refresh(job)
        assert (job.status, job.attempts) == ("dead", 1)
        assert "refused the recipient (SMTP 550)" in job.last_error
        assert "nobody@example.com" not in job.last_error

    def test_the_outbox_page_does_not_exist_when_mail_goes_out_by_smtp(
        self, client, owner_a
    ) -> None:  # type: ignore[no-untyped-def]
        assert client.get("/dev/outbox").status_code == 404
        assert client.get("/dev/outbox/1").status_code == 404
        home = owner_a.client.get("/").get_data(as_text=True)
        assert "/dev/outbox" not in home


class TestSmtpDown:
    @pytest.fixture
    def app_overrides(self) -> dict[str, object]:
        return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": free_port()}

    def test_an_unreachable_server_means_retries_with_backoff_then_a_dead_job(
        self, app: Flask, db: Session
    ) -> None:
        job = queue_welcome(app, db)
        db.execute(update(Job).values(max_attempts=2))
        db.commit()

        run_due_jobs(app)
        db.refresh(job)
        assert (job.status, job.attempts) == ("queued", 1)
        assert "ConnectionRefusedError" in job.last_error
        assert job.run_at > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
        assert run_due_jobs(app) == 0  # not before its backoff

        make_due(db)
        run_due_jobs(app)
        db.refresh(job)
        assert (job.status, job.attempts) == ("dead", 2)


class TestOutbox:
    """The embedded default: MAIL_BACKEND=outbox."""

    def test_a_delivered_email_is_stored_and_shown_on_the_outbox_page(
        self, app: Flask, db: Session, client
    ) -> None:  # type: ignore[no-untyped-def]
        queue_welcome(app, db)
        run_jobs(app)

        stored = db.exec(select(OutboxEmail)).one()
        listing = client.get("/dev/outbox")
        shown = client.get(f"/dev/outbox/{stored.id}")

        assert stored.recipient == "pat@example.com" and LINK in stored.text_body
        assert listing.status_code == 200 and shown.status_code == 200
        assert "Confirm your email address for Referral" in listing.get_data(as_text=True)
        page = shown.get_data(as_text=True)
        assert f'<a href="{LINK}"' in page  # the text, its link clickable
        assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in page
        assert "allow-scripts" not in page and "allow-same-origin" not in page
        assert escape(f'href="{LINK}"') in page  # the HTML, escaped into srcdoc
        [sent] = sent_emails(db, to="pat@example.com")
        assert sent.path("/verify/") == "/verify/abc"

    def test_the_outbox_lists_the_newest_first(self, app: Flask, db: Session, client) -> None:  # type: ignore[no-untyped-def]
        queue_welcome(app, db, to="first@example.com")
        queue_welcome(app, db, to="second@example.com")
        run_jobs(app)

        listing = client.get("/dev/outbox").get_data(as_text=True)

        assert listing.index("second@example.com") < listing.index("first@example.com")

    def test_the_outbox_is_linked_from_every_page(self, client) -> None:  # type: ignore[no-untyped-def]
        assert 'href="/dev/outbox"' in client.get("/").get_data(as_text=True)

    def test_an_unknown_email_is_a_404(self, client) -> None:  # type: ignore[no-untyped-def]
        assert client.get("/dev/outbox/999999").status_code == 404

    def test_delivering_the_same_email_twice_stores_it_once(self, app: Flask, db: Session) -> None:
        job = queue_welcome(app, db)
        run_jobs(app)
        db.execute(update(Job).values(status="queued"))  # as if the worker died after sending
        db.commit()

        run_jobs(app)

        db.refresh(job)
        assert job.attempts == 2
        assert len(db.exec(select(OutboxEmail)).all()) == 1

    def test_the_worker_command_drains_the_queue(self, app: Flask, db: Session) -> None:
        queue_welcome(app, db)

        result = app.test_cli_runner().invoke(args=["worker", "--once"])

        assert result.exit_code == 0, result.output
        assert "2 jobs run." in result.output  # and the follow-up run a starting worker queues
        assert [e.to for e in sent_emails(db)] == ["pat@example.com"]


class TestUnknownBackend:
    @pytest.fixture
    def app_overrides(self) -> dict[str, object]:
        return {"MAIL_BACKEND": "pigeon"}

    def test_mail_waits_for_the_setting_to_be_fixed(self, app: Flask, db: Session) -> None:
        job = queue_welcome(app, db)

        run_due_jobs(app)

        db.refresh(job)
        assert (job.status, job.attempts) == ("queued", 1)
        assert "unknown MAIL_BACKEND 'pigeon'" in job.last_error


def test_the_outbox_is_only_for_a_browser_on_this_machine(client) -> None:
    assert client.get("/dev/outbox").status_code == 200
    assert client.get("/dev/outbox", environ_base={"REMOTE_ADDR": "203.0.113.5"}).status_code == 404
    proxied = client.get("/dev/outbox", headers={"X-Forwarded-For": "203.0.113.5"})
    assert proxied.status_code == 404


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("localhost", 200),
        ("localhost:5000", 200),
        ("127.0.0.1:8000", 200),
        ("[::1]:5000", 200),
        ("LOCALHOST", 200),
        ("attacker.example", 404),  # a rebound name: the browser sends the page's host
        ("attacker.example:5000", 404),
        ("127.0.0.1.attacker.example", 404),
        ("localhost.attacker.example", 404),
        ("[::1", 404),
    ],
)
def test_the_outbox_answers_only_to_a_loopback_host_name(client, host: str, status: int) -> None:
    assert client.get("/dev/outbox", headers={"Host": host}).status_code == status
