"""Offset pagination's ``Link: <…>; rel="next"`` header (RFC 8288), the same in every service."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request

# Behind the gateway a service sees its own path; the caller must get back the one it called.
FORWARDED_PREFIX_HEADER = "x-forwarded-prefix"


def next_page_link(request: Request, limit: int, offset: int) -> str:
    """The link to the page after this one, with the caller's other query parameters kept."""
    following = urlencode({**request.query_params, "limit": limit, "offset": offset + limit})
    path = request.headers.get(FORWARDED_PREFIX_HEADER, "") + request.url.path
    return f'<{path}?{following}>; rel="next"'
