"""An SMTP server (aiosmtpd) that sends nothing on: it keeps each message as an .eml file."""

from __future__ import annotations

import sys
import time
import uuid
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from engage.infra.addresses import data_dir, tcp_open
from engage.infra.processes import EmbeddedProcess, await_ready, require_local, spawn
from shared.settings import Settings


def smtp_target(settings: Settings) -> tuple[str, int]:
    return settings.notifications.smtp_host, settings.notifications.smtp_port


async def smtp_reachable(settings: Settings) -> bool:
    return await tcp_open(*smtp_target(settings))


def mail_dir(settings: Settings) -> Path:
    return data_dir(settings) / "mail"


class MailFolder:
    """The embedded SMTP server's handler (aiosmtpd's ``-c``): every message it is given is kept
    as ``<time>-<id>.eml`` in one folder, for a person to open, and sent nowhere."""

    def __init__(self, folder: str) -> None:
        self._folder = Path(folder)

    @classmethod
    def from_cli(cls, parser: ArgumentParser, *args: str) -> MailFolder:
        if len(args) != 1:
            parser.error("MailFolder takes one argument: the folder to keep messages in")
        return cls(args[0])

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self._folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else content.encode()
        (self._folder / name).write_bytes(data)
        return "250 Message kept"


async def start_smtp(settings: Settings) -> EmbeddedProcess | None:
    """Start aiosmtpd keeping messages under ``<data_dir>/mail``, unless SMTP already answers."""
    if await smtp_reachable(settings):
        return None
    host, port = smtp_target(settings)
    require_local("SMTP", host, port)
    folder = mail_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"{host}:{port}"]
    argv += ["-c", f"{__name__}.{MailFolder.__name__}", str(folder)]
    handle = await spawn("smtp", argv, settings, f"smtp://{host}:{port}")
    await await_ready(handle, lambda: smtp_reachable(settings))
    return handle
