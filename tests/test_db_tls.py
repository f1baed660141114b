"""Connections to this machine's PostgreSQL skip the TLS request; others keep what they say."""

import pytest

from shared.db.tls import plain_tls_default


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://postgres@127.0.0.1:5432/engage",
        "postgresql+asyncpg://postgres@localhost/engage",
        "postgresql+asyncpg://postgres@[::1]:5432/engage",
    ],
)
def test_a_loopback_url_without_a_tls_mode_asks_for_none(url: str) -> None:
    assert plain_tls_default(url) == {"ssl": False}


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://engage@db.internal:5432/engage",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/engage?ssl=require",
        "postgresql+asyncpg://postgres@localhost/engage?sslmode=verify-full",
    ],
)
def test_a_remote_server_or_a_chosen_tls_mode_keeps_asyncpgs_choice(url: str) -> None:
    assert plain_tls_default(url) == {}
