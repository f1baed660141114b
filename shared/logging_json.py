"""Logs as JSON lines: one object per record, with the trace and span it was written in, the
organisation and engagement it concerns where known, and never a secret.

``setup_logging`` makes every process (API, worker) write this way. Organisation and engagement
ids are bound for a unit of work with ``log_context`` (a consumer binds those of the event it
handles) or given per call as ``extra``. Before a line is written, whatever looks like a
credential is replaced: bearer tokens and JWTs, a URL's password, ``token=``/``secret=``-style
values, and every secret value of the process's settings.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from pydantic import BaseModel, SecretStr
from sqlalchemy.engine import make_url

REDACTED = "[redacted]"
CONTEXT_FIELDS = ("organization_id", "engagement_id")
_context: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "engage_log_context", default=()
)
_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*"), REDACTED),
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@"), rf"\1{REDACTED}@"),
    (
        re.compile(
            r"(?i)\b((?:access_|refresh_|id_)?token|secret|client_secret|password|passwd|"
            r"api_key|apikey|authorization)(['\"]?\s*[:=]\s*['\"]?)([^'\"\s,&;}]+)"
        ),
        rf"\1\2{REDACTED}",
    ),
)
# Below this length a "secret" (an empty or placeholder value) would redact ordinary words.
_SHORTEST_SECRET = 8


def bind_for_this_task(**ids: object) -> None:
    """Bind exactly these ``organization_id``/``engagement_id`` (the others unbound) for the rest
    of the current task: an HTTP request's, whatever an earlier request in the same task bound."""
    _context.set(tuple((key, str(value)) for key, value in ids.items() if value is not None))


@contextlib.contextmanager
def log_context(**ids: object) -> Iterator[None]:
    """Bind ``organization_id``/``engagement_id`` to every record written inside."""
    known = {key: str(value) for key, value in ids.items() if value is not None}
    token = _context.set(tuple({**dict(_context.get()), **known}.items()))
    try:
        yield
    finally:
        _context.reset(token)


def secret_values(settings: BaseModel) -> set[str]:
    """Every secret a settings object holds: its ``SecretStr`` values (nested ones too) and the
    password of each database URL."""
    found: set[str] = set()
    _collect(settings, found)
    return {value for value in found if len(value) >= _SHORTEST_SECRET}


def _collect(value: object, found: set[str]) -> None:
    if isinstance(value, SecretStr):
        found.add(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            field = getattr(value, name)
            if name.endswith("database_url") and isinstance(field, str) and field:
                password = make_url(field).password
                if password:
                    found.add(str(password))
            _collect(field, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list | tuple | set):
        for item in value:
            _collect(item, found)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, trace and span ids, service,
    organisation and engagement ids; exceptions as text. Secrets redacted."""

    def __init__(self, service: str, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.service = service
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted(set(secrets), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self.redact(record.getMessage()),
            "service": self.service,
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = f"{span.trace_id:032x}"
            line["span_id"] = f"{span.span_id:016x}"
        line.update(_context.get())
        for field in CONTEXT_FIELDS:
            given = record.__dict__.get(field)
            if given is not None:
                line[field] = str(given)
        if record.exc_info:
            line["exception"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def json_handler(service: str, settings: BaseModel, stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(service, secret_values(settings)))
    return handler


def setup_logging(service: str, settings: BaseModel, level: int = logging.INFO) -> None:
    """Make the process's root logger (and uvicorn's, which propagate to it) write JSON lines."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(json_handler(service, settings))
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
