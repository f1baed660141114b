"""How long idle HTTP connections between the platform's own processes stay open.

A client that sends a request on a connection the server is closing at that very moment gets a
transport error and no answer (a 503 for the caller, seen on a test run): the client must give up
an idle connection before the server does. uvicorn's own default (5 s) equals httpx's, which
makes that race likely under load.
"""

import httpx

SERVER_KEEP_ALIVE_SECONDS = 30
CLIENT_KEEP_ALIVE_SECONDS = 20


def internal_limits(connections: int) -> httpx.Limits:
    """A pool of up to ``connections`` kept-alive connections to the platform's own services."""
    return httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=CLIENT_KEEP_ALIVE_SECONDS,
    )
