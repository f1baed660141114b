"""The e-mail telling a client's people that a report is theirs: the organisation, the period
and the link to download it (through the gateway, which asks them to sign in)."""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from shared.settings import NotificationsSettings

SUBJECTS = {
    "it": "Report {organization}: {start} - {end}",
    "en": "{organization} report: {start} - {end}",
}
BODIES = {
    "it": "Il report del periodo {start} - {end} è pronto.\n\nScaricalo (PDF): {link}\n",
    "en": "The report for {start} - {end} is ready.\n\nDownload it (PDF): {link}\n",
}


def message(
    settings: NotificationsSettings,
    recipients: list[str],
    *,
    organization: str,
    start: str,
    end: str,
    link: str,
    language: str,
) -> EmailMessage:
    words = {"organization": organization, "start": start, "end": end, "link": link}
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = ", ".join(recipients)
    mail["Date"] = formatdate(localtime=False)
    mail["Subject"] = SUBJECTS.get(language, SUBJECTS["en"]).format(**words)
    text = BODIES.get(language, BODIES["en"]).format(**words)
    mail.set_content(text)
    escaped = {key: html.escape(value) for key, value in words.items()}
    body = BODIES.get(language, BODIES["en"]).format(**escaped)
    anchor = f'<a href="{escaped["link"]}">{escaped["link"]}</a>'
    mail.add_alternative(
        "<p>" + body.replace(escaped["link"], anchor).replace("\n", "<br>") + "</p>",
        subtype="html",
    )
    return mail


async def send(settings: NotificationsSettings, mail: EmailMessage) -> None:
    """Raises ``aiosmtplib.SMTPException`` or ``OSError`` when the server refuses or is away."""
    await aiosmtplib.send(
        mail,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=settings.smtp_password.get_secret_value() or None,
        start_tls=settings.smtp_starttls,
        timeout=settings.smtp_timeout_seconds,
    )
