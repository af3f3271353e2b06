"""Sending mail through the SMTP server of OKG_MAIL_URL (standard library smtplib): smtp://host:port, smtps://
for TLS, user:password@ for authentication. Without OKG_MAIL_URL nothing is sent (the app shows its notices)."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from flask import current_app

from .errors import Unavailable


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    body: str


def mail_enabled() -> bool:
    return bool(current_app.config["MAIL_URL"])


def send(mails: list[Mail]) -> int:
    """Send these mails over one connection; how many were sent. Unavailable in words when the server cannot
    be reached or refuses (nothing is retried here: the caller keeps what was not sent)."""
    if not mails or not mail_enabled():
        return 0
    parts = urlsplit(current_app.config["MAIL_URL"])
    timeout = float(current_app.config["MAIL_TIMEOUT_SECONDS"])
    host, port = parts.hostname or "localhost", parts.port
    try:
        if parts.scheme == "smtps":
            server: smtplib.SMTP = smtplib.SMTP_SSL(host, port or 465, timeout=timeout)
        else:
            server = smtplib.SMTP(host, port or 25, timeout=timeout)
        with server:
            if parts.username:
                server.login(unquote(parts.username), unquote(parts.password or ""))
            for mail in mails:
                message = EmailMessage()
                message["From"] = current_app.config["MAIL_FROM"]
                message["To"] = ", ".join(mail.to)
                message["Subject"] = mail.subject
                message.set_content(mail.body)
                server.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise Unavailable(f"Sending mail through {host}:{port or ''} failed: {exc}") from exc
    return len(mails)
