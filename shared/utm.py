"""UTM parameters on a link (the touchpoints' tracked links, the website's drafted posts).

The rule's parameters replace the destination's own values of them; every other query
parameter and the fragment are kept as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit


def with_utm(destination: str, tags: Mapping[str, str]) -> str:
    """``destination`` with ``tags`` (``utm_source`` …) set, in their order, after its own
    parameters."""
    parts = urlsplit(destination)
    kept = [
        piece
        for piece in parts.query.split("&")
        if piece and unquote_plus(piece.partition("=")[0]) not in tags
    ]
    added = [f"{key}={quote(value, safe='')}" for key, value in tags.items()]
    return urlunsplit(parts._replace(query="&".join([*kept, *added])))
