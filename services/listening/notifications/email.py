"""E-mail notifications: a plain-text and HTML message saying what happened, sent over SMTP.

The message carries no link (a phished copy can point nowhere) and no secret: only the event's
plain facts (names, counts, times, reasons), never a value that looks like a URL or a field
whose name says it holds a secret.
"""

from __future__ import annotations

import html
import re
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import aiosmtplib

from services.listening.notifications.outcomes import Sent
from shared.settings import NotificationsSettings

TITLES = {
    "listening.alert_raised": "Alert raised",
    "listening.alert_escalated": "Alert escalated",
    "listening.alert_acknowledged": "Alert acknowledged",
    "listening.alert_resolved": "Alert resolved",
    "conversations.sla_due_soon": "A reply is due soon",
    "conversations.sla_breached": "A reply is overdue (SLA breached)",
    "listening.source_failing": "A listening source is failing",
}
# Fields that name what the event is about, in the subject when present.
NAMING_FIELDS = ("title", "name", "rule_name", "query_name")
SECRET_WORDS = re.compile(r"secret|token|password|credential|signature|key", re.IGNORECASE)
LINK = re.compile(r"https?://|www\.|\w+\.\w+/\S", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
MAX_FACTS = 30
MAX_VALUE_CHARS = 300
MAX_LIST_ITEMS = 10


def _one_line(text: str, limit: int) -> str:
    return CONTROL.sub(" ", text).strip()[:limit]


def _shown(value: Any) -> str | None:
    """A value as a line of text, or None when it is not shown (a link, a nested object)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return None if LINK.search(value) else _one_line(value, MAX_VALUE_CHARS)
    if isinstance(value, list) and all(not isinstance(item, dict | list) for item in value):
        shown = [text for item in value[:MAX_LIST_ITEMS] if (text := _shown(item)) is not None]
        more = len(value) - MAX_LIST_ITEMS
        return ", ".join(shown) + (f" (and {more} more)" if more > 0 else "") if shown else None
    return None


def facts(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The event's fields a person may read: label and value, in the event's order."""
    found: list[tuple[str, str]] = []
    for key, value in data.items():
        if SECRET_WORDS.search(key):
            continue
        shown = _shown(value)
        if shown:
            found.append((key.replace("_", " ").capitalize(), shown))
    return found[:MAX_FACTS]


def subject_of(event: dict[str, Any]) -> str:
    name = _event_name(event)
    title = TITLES.get(name, name)
    data = event.get("data") or {}
    named = next((data[f] for f in NAMING_FIELDS if isinstance(data.get(f), str)), None)
    if named and not LINK.search(named):
        title = f"{title}: {named}"
    return _one_line(f"[Atlantide Engage] {title}", 200)


def _event_name(event: dict[str, Any]) -> str:
    parts = str(event.get("type", "")).split(".")
    return ".".join(parts[1:3]) if len(parts) == 4 else str(event.get("type", ""))


def compose(
    event: dict[str, Any],
    *,
    recipients: list[str],
    sender: str,
    channel_name: str,
    message_id: str,
) -> EmailMessage:
    name = _event_name(event)
    title = TITLES.get(name, name)
    listed = facts(event.get("data") or {})
    when = str(event.get("time", ""))
    channel = _one_line(channel_name, 200)
    footer = (
        f'You receive this because the notification channel "{channel}" of your organisation '
        f"is sent {name} events. Open Atlantide Engage to act on it."
    )
    text_lines = [title, "", f"What happened: {name} at {when}", ""]
    text_lines += [f"- {label}: {value}" for label, value in listed]
    text_lines += ["", f"Event id: {event.get('id')}", "", footer, ""]
    items = "".join(
        f"<li><strong>{html.escape(label)}</strong>: {html.escape(value)}</li>"
        for label, value in listed
    )
    body_html = (
        f"<html><body><h2>{html.escape(title)}</h2>"
        f"<p>What happened: <code>{html.escape(name)}</code> at {html.escape(when)}</p>"
        f"<ul>{items}</ul>"
        f"<p>Event id: <code>{html.escape(str(event.get('id')))}</code></p>"
        f"<p><small>{html.escape(footer)}</small></p></body></html>"
    )
    message = EmailMessage()
    message["Subject"] = subject_of(event)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    # The same delivery tried again is the same message: a mail server may drop the copy.
    message["Message-ID"] = message_id
    message["Engage-Event-Id"] = _one_line(str(event.get("id")), 200)
    message.set_content("\n".join(text_lines))
    message.add_alternative(body_html, subtype="html")
    return message


async def send_email(message: EmailMessage, settings: NotificationsSettings) -> Sent:
    password = settings.smtp_password.get_secret_value()
    try:
        refused, _reply = await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username or None,
            password=password or None,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
    except aiosmtplib.SMTPRecipientsRefused as error:
        codes = [refusal.code for refusal in error.recipients]
        temporary = all(400 <= code < 500 for code in codes)
        return Sent("retry" if temporary else "give_up", codes[0] if codes else None, str(error))
    except aiosmtplib.SMTPResponseException as error:
        answer = f"the mail server answered {error.code} {error.message}"
        return Sent("retry" if 400 <= error.code < 500 else "give_up", error.code, answer)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        return Sent("retry", None, f"{type(error).__name__}: {error}")
    if refused:
        # Some recipients were taken: trying again would send the others a second copy.
        return Sent("sent", 250, "refused: " + ", ".join(sorted(refused)))
    return Sent("sent", 250, None)
