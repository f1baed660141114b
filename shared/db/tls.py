"""Whether a connection to PostgreSQL negotiates TLS when its URL does not say.

asyncpg's default (``sslmode=prefer``) asks every server for TLS first: a round trip more per
connection, and when a connect times out during that exchange asyncpg leaves a future failed with
"unexpected connection_lost() call" that nobody awaits (logged as "Future exception was never
retrieved" by the workers at start-up on a loaded machine). Towards this machine there is nothing
to protect, so TLS is not asked for; elsewhere asyncpg's own default stands, and production URLs
say what they need (``?ssl=verify-full``, see docs/deploy-security.md).
"""

from __future__ import annotations

from sqlalchemy.engine import make_url

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
TLS_PARAMETERS = frozenset({"ssl", "sslmode"})


def plain_tls_default(database_url: str) -> dict[str, bool]:
    """``{"ssl": False}`` for a URL to this machine that chooses no TLS mode, else nothing."""
    url = make_url(database_url)
    if TLS_PARAMETERS & set(url.query) or url.host not in LOOPBACK_HOSTS:
        return {}
    return {"ssl": False}
