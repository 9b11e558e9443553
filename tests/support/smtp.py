"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives,
and can refuse chosen recipients with a chosen SMTP reply."""

from __future__ import annotations

import contextlib
import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refusals: dict[str, list[str]] = {}
        # The client's (host, port) of each message: one per SMTP connection.
        self.peers: list[object] = []

    def refuse(self, address: str, *replies: str) -> None:
        """Answer RCPT TO for `address` with these replies in turn (e.g.
        "451 4.3.0 Try again later"), then accept it."""
        self.refusals[address] = list(replies)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]  # noqa: N802
        replies = self.refusals.get(address)
        if replies:
            return replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        self.peers.append(session.peer)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    @property
    def connections(self) -> int:
        """How many SMTP connections delivered the messages received."""
        return len(set(self.peers))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_smtp_server(*, idle_timeout: float = 300) -> Iterator[tuple[Inbox, int]]:
    """A server on a free port; it closes a connection idle for `idle_timeout` seconds."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, timeout=idle_timeout)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    with running_smtp_server() as server:
        yield server
