"""A real SMTP server in the test process (aiosmtpd, in a thread): it refuses the messages it
is told to refuse (e.g. 451, 421), then accepts, and keeps what it accepted."""

import email
import email.policy
import socket
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_DATA(self, smtp_server, session, envelope):
        with self.server.lock:
            if self.server.refusals:
                self.server.refused += 1
                return self.server.refusals.pop(0)
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.server.accepted.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self):
        self.lock = threading.Lock()
        self.refusals: list[str] = []
        self.refused = 0
        self.accepted: list[tuple[list[str], EmailMessage]] = []
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def refuse(self, *answers: str) -> None:
        """Answer the next messages with these replies, e.g. "451 4.3.0 Try again later"."""
        with self.lock:
            self.refusals.extend(answers)

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [message for _, message in self.accepted]

    def recipients(self) -> list[str]:
        with self.lock:
            return sorted(address for to, _ in self.accepted for address in to)

    def settings(self) -> dict[str, object]:
        """The Django email settings that send here."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": self.port,
            "EMAIL_USE_TLS": False,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_TIMEOUT": 10,
        }
