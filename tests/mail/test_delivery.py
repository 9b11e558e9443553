"""Email leaves through SMTP from the job queue, or lands in the local outbox."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import update
from sqlmodel import Session, select

from referral.jobs.models import Job
from referral.jobs.worker import run_due_jobs
from referral.mail.models import OutboxEmail
from referral.mail.services import queue_email
from tests.support.smtp import free_port


def queue_welcome(app: Flask, db: Session, to: str = "pat@example.com") -> None:
    with app.app_context():
        queue_email(
            db,
            to=to,
            subject="Confirm your email address for Referral",
            template="verify_email",
            name="Pat",
            link="http://127.0.0.1:5000/verify/abc",
            hours=48,
        )
    db.commit()


class TestSmtp:
    @pytest.fixture
    def app_overrides(self, smtp_server) -> dict[str, object]:  # type: ignore[no-untyped-def]
        _, port = smtp_server
        return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}

    def test_a_queued_email_is_delivered_to_the_smtp_server(
        self,
        app: Flask,
        db: Session,
        smtp_server,
    ) -> None:
        inbox, _ = smtp_server
        queue_welcome(app, db)

        assert run_due_jobs(app) == 1

        [message] = inbox.to("pat@example.com")
        assert message["Subject"] == "Confirm your email address for Referral"
        assert message["From"] == app.config["MAIL_SENDER"]
        assert message["Message-ID"]
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert "http://127.0.0.1:5000/verify/abc" in text and "href" in html

    def test_the_outbox_page_does_not_exist_when_mail_goes_out_by_smtp(self, client) -> None:
        assert client.get("/dev/outbox").status_code == 404


class TestSmtpDown:
    @pytest.fixture
    def app_overrides(self) -> dict[str, object]:
        return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": free_port()}

    def test_an_unreachable_server_means_retries_then_a_dead_job(
        self, app: Flask, db: Session
    ) -> None:
        queue_welcome(app, db)
        db.execute(update(Job).values(max_attempts=2))
        db.commit()

        run_due_jobs(app)
        job = db.exec(select(Job)).one()
        assert (job.status, job.attempts) == ("queued", 1)
        assert "ConnectionRefusedError" in job.last_error

        db.execute(update(Job).values(run_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
        db.commit()
        run_due_jobs(app)
        db.refresh(job)
        assert job.status == "dead"


def test_in_the_embedded_default_mail_lands_in_the_outbox_page(
    app: Flask, db: Session, client
) -> None:
    queue_welcome(app, db)
    run_due_jobs(app)

    stored = db.exec(select(OutboxEmail)).one()
    listing = client.get("/dev/outbox").get_data(as_text=True)
    shown = client.get(f"/dev/outbox/{stored.id}").get_data(as_text=True)

    assert "Confirm your email address for Referral" in listing
    assert '<a href="http://127.0.0.1:5000/verify/abc"' in shown


def test_delivering_the_same_email_twice_stores_it_once(app: Flask, db: Session) -> None:
    queue_welcome(app, db)
    job = db.exec(select(Job)).one()
    run_due_jobs(app)
    db.execute(update(Job).values(status="queued"))  # as if the worker died after sending
    db.commit()

    run_due_jobs(app)

    assert len(db.exec(select(OutboxEmail)).all()) == 1
    assert job.payload["message_id"]


def test_the_worker_command_drains_the_queue(app: Flask, db: Session) -> None:
    queue_welcome(app, db)

    result = app.test_cli_runner().invoke(args=["worker", "--once"])

    assert result.exit_code == 0, result.output
    assert "1 jobs run." in result.output
