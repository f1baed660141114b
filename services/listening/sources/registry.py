"""Which reader polls which source kind. Kinds without a reader are pushed to the service
(webhooks) or uploaded (imports): they are never polled."""

from __future__ import annotations

import httpx
from pydantic import BaseModel

from services.listening.contracts import SourceKind
from services.listening.sources.imports import ImportSettings
from services.listening.sources.mastodon import MastodonReader
from services.listening.sources.readers import SourceReader
from services.listening.sources.rss import RssReader
from services.listening.sources.webhooks import (
    FacebookPageSettings,
    InboundWebhookSettings,
    InstagramAccountSettings,
)
from services.listening.sources.x import XSearchReader
from services.listening.sources.youtube import YouTubeCommentsReader
from shared.settings import Settings

# Each polled kind's reader class, built with the worker's HTTP client and the kind's API base
# URL (None: the real one); its ``Settings`` validate a new source's settings.
READERS: dict[SourceKind, type[SourceReader]] = {
    SourceKind.YOUTUBE: YouTubeCommentsReader,
    SourceKind.X: XSearchReader,
    SourceKind.RSS: RssReader,
    SourceKind.MASTODON: MastodonReader,
}

# The settings of the kinds that are pushed to the service or uploaded, never polled.
PUSHED_SETTINGS: dict[SourceKind, type[BaseModel]] = {
    SourceKind.FACEBOOK: FacebookPageSettings,
    SourceKind.INSTAGRAM: InstagramAccountSettings,
    SourceKind.WEBHOOK: InboundWebhookSettings,
    SourceKind.IMPORT: ImportSettings,
}

# Sources of these kinds read a channel the publisher connected (its token stays there): the
# publisher reads the comments and mentions, listening keeps the cursor and the health.
CONNECTED_KINDS = frozenset({SourceKind.SANDBOX})


def reader_for(kind: SourceKind, http: httpx.AsyncClient, settings: Settings) -> SourceReader:
    try:
        factory = READERS[kind]
    except KeyError:
        raise LookupError(f"no reader polls {kind.value} sources") from None
    return factory(http, settings.listening.api_base_urls.get(kind.value))
