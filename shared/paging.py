"""Offset pagination's ``Link: <…>; rel="next"`` header (RFC 8288), the same in every service."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

from fastapi import Request

from shared.errors import ProblemError

# Behind the gateway a service sees its own path; the caller must get back the one it called.
FORWARDED_PREFIX_HEADER = "x-forwarded-prefix"


def next_page_link(request: Request, limit: int, offset: int) -> str:
    """The link to the page after this one, with the caller's other query parameters kept."""
    following = urlencode({**request.query_params, "limit": limit, "offset": offset + limit})
    path = request.headers.get(FORWARDED_PREFIX_HEADER, "") + request.url.path
    return f'<{path}?{following}>; rel="next"'


# --- keyset cursors ---------------------------------------------------------------------------
# A cursor is the sort key of the last row a page held, opaque to the caller: the next page
# starts strictly after it, so rows added meanwhile neither repeat nor shift the pages.

CURSOR_MAX_LENGTH = 200


def encode_cursor(*key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, parts: int) -> list[str]:
    """The key ``encode_cursor`` made; anything else is the caller's error (422)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or len(key) != parts or not all(isinstance(k, str) for k in key):
        raise invalid_cursor()
    return key


def invalid_cursor() -> ProblemError:
    return ProblemError(422, "invalid-cursor", "The cursor is not one this list gave.")
