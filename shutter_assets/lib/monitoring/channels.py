"""Where alert messages go: email over SMTP and a chat webhook (Slack/Teams/Mattermost style).

No Dagster here. A channel sends one ``Message`` or raises ``DeliveryError`` with a reason an
operator can act on (never the password or the webhook URL, which holds its token).
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from shutter_assets.lib.monitoring.settings import AlertSettings


class DeliveryError(RuntimeError):
    """A message could not be handed to its channel; it stays pending and is retried."""


@dataclass(frozen=True)
class Message:
    """One notification: ``status`` is ``firing`` (an incident opened) or ``resolved``."""

    incident_key: str
    status: str
    subject: str
    body: str
    opened_at: str
    resolved_at: str | None = None

    def webhook_payload(self) -> dict:
        """Slack's and Teams' incoming webhooks both show ``text``; the rest is for automation."""
        return {
            "text": f"*{self.subject}*\n{self.body}",
            "status": self.status,
            "incident": self.incident_key,
            "opened_at": self.opened_at,
            "resolved_at": self.resolved_at,
        }


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> None: ...


class EmailChannel:
    """SMTP with optional STARTTLS and login; recipients and credentials from ``AlertSettings``."""

    name = "email"

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings

    def send(self, message: Message) -> None:
        s = self.settings
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = s.email_from
        mail["To"] = ", ".join(s.email_to)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain="shutter.local")
        mail["X-Shutter-Incident"] = message.incident_key
        mail["X-Shutter-Status"] = message.status
        mail.set_content(message.body)
        where = f"SMTP server {s.smtp_host}:{s.smtp_port}"
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_s) as smtp:
                smtp.ehlo()
                if s.smtp_starttls:
                    if not smtp.has_extn("starttls"):
                        raise DeliveryError(
                            f"{where} does not offer STARTTLS; set ALERT_SMTP_STARTTLS=0 only if "
                            "the network to it is trusted"
                        )
                    context = ssl.create_default_context(cafile=s.smtp_ca_file or None)
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password)
                smtp.send_message(mail)
        except DeliveryError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"{where} refused the login of {s.smtp_user!r} (code {exc.smtp_code}); check "
                "ALERT_SMTP_USER / ALERT_SMTP_PASSWORD"
            ) from None
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}") from None


class WebhookChannel:
    """HTTP POST of ``Message.webhook_payload()`` as JSON; any 2xx answer is a delivery."""

    name = "webhook"

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings

    def send(self, message: Message) -> None:
        s = self.settings
        # The URL carries the webhook's token: errors name only its host.
        host = urllib.request.urlparse(s.webhook_url).netloc.rsplit("@", 1)[-1]
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked just below
            s.webhook_url,
            data=json.dumps(message.webhook_payload()).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "shutter-alerts"},
            method="POST",
        )
        if request.type not in ("http", "https"):
            raise DeliveryError("ALERT_WEBHOOK_URL must be an http:// or https:// URL")
        try:
            with urllib.request.urlopen(request, timeout=s.webhook_timeout_s) as answer:  # noqa: S310
                answer.read()
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"webhook at {host} answered HTTP {exc.code}") from None
        except (OSError, urllib.error.URLError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"webhook at {host} unreachable: {reason}") from None


def configured_channels(settings: AlertSettings) -> list[Channel]:
    channels: list[Channel] = []
    if settings.email_enabled:
        channels.append(EmailChannel(settings))
    if settings.webhook_enabled:
        channels.append(WebhookChannel(settings))
    return channels
