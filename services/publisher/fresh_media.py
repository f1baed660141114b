"""A post's media links, signed afresh for each publish attempt.

A scheduled post may wait months; the links the content service gave when it was scheduled expire
within ``ENGAGE_MEDIA__PUBLIC_URL_TTL_SECONDS``. Instead of links valid for months, every attempt
signs new ones valid from now, so what a platform fetches was signed moments before, and a retry
after a long rate-limit wait still hands out a working link. The link is signed for the
publication's own organisation, whose approved variant names the medium (``approvals.py``).
"""

from __future__ import annotations

import uuid

from services.publisher.connectors.base import PublishRequest
from shared.media_links import MediaLinks


def with_fresh_links(
    request: PublishRequest, organization_id: uuid.UUID, links: MediaLinks
) -> PublishRequest:
    if not any(media.media_id for media in request.media):
        return request
    media = [
        media.model_copy(update={"url": links.url(organization_id, media.media_id)})
        if media.media_id
        else media
        for media in request.media
    ]
    return request.model_copy(update={"media": media})
