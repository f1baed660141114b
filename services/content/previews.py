"""A variant's preview: one HTML page showing how a platform's feed will show it.

The text is cut where the feed cuts it, with the platform's "see more"; the first image is
cropped to the ratio the feed shows (the platform rules table's range, or the display table's
ratio); a link shows as the platform shows links (a card, a pin's destination, or plain text).
The page is self-contained and loads nothing: images are boxes of the cropped shape, each with
its media id in ``data-media-id`` for a frontend to fill with the medium it fetches with its own
token (``GET /v1/media/{id}/content``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from sqlalchemy.ext.asyncio import AsyncSession

from services.content import repository
from services.content import service as items
from services.content.platform_display import (
    Crop,
    Display,
    crop,
    display_of,
    ratio_label,
    truncate,
)
from services.content.platform_rules import shows_title
from shared.domain import Channel
from shared.errors import ProblemError

# Link cards show the item's body as their description, cut like Open Graph descriptions are.
CARD_DESCRIPTION_CHARACTERS = 160
CARD_RATIO = "1.91 / 1"
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class PreviewImage:
    media_id: uuid.UUID
    mime_type: str
    width: int | None
    height: int | None
    crop: Crop | None  # None when the dimensions are unknown

    @property
    def css_ratio(self) -> str:
        if self.crop is not None:
            return f"{self.crop.width} / {self.crop.height}"
        return "1 / 1"

    @property
    def note(self) -> str:
        if self.crop is None:
            return "dimensions unknown: the platform may refuse or crop it"
        shape = f"{self.width}x{self.height}"
        if not self.crop.cropped:
            return f"{shape}, shown whole"
        kept = f"{self.crop.width}x{self.crop.height} ({ratio_label(self.crop.ratio)})"
        if self.crop.top:
            return f"{shape} shown as {kept}: {self.crop.top} px cut at top and bottom"
        return f"{shape} shown as {kept}: {self.crop.left} px cut at each side"


@dataclass(frozen=True)
class LinkPreview:
    url: str
    domain: str
    title: str
    description: str


@dataclass(frozen=True)
class Preview:
    display: Display
    title: str | None
    title_cut: bool
    text: str
    text_cut: bool
    full_length: int
    images: tuple[PreviewImage, ...]
    other_media: int
    link: LinkPreview | None


@cache
def _template() -> Template:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("variant_preview.html.j2")


def render(preview: Preview) -> str:
    return _template().render(p=preview, card_ratio=CARD_RATIO)


def build(
    channel: Channel,
    *,
    text: str,
    title: str | None,
    link: str | None,
    card_title: str,
    card_description: str,
    media: list[PreviewImage],
) -> Preview:
    display = display_of(channel)
    shown_text, text_cut = truncate(text, display.truncate_at)
    shown_title, title_cut = (None, False)
    if title is not None and shows_title(channel):
        shown_title, title_cut = truncate(title, display.title_truncate_at)
    images = tuple(image for image in media if image.mime_type.startswith("image/"))[:1]
    link_preview = None
    if link:
        description, cut = truncate(card_description, CARD_DESCRIPTION_CHARACTERS)
        link_preview = LinkPreview(
            url=link,
            domain=(urlsplit(link).hostname or link).removeprefix("www."),
            title=card_title,
            description=description + ("…" if cut else ""),
        )
    return Preview(
        display=display,
        title=shown_title,
        title_cut=title_cut,
        text=shown_text,
        text_cut=text_cut,
        full_length=len(text),
        images=images,
        other_media=len(media) - len(images),
        link=link_preview,
    )


async def variant_preview(session: AsyncSession, item_id: uuid.UUID, channel: Channel) -> str:
    """The HTML preview of the item's variant for ``channel``; 404 for another organisation's
    item (the session's scope hides it) and for an item with no variant there."""
    item = await items.require_item(session, item_id)
    variant = next((v for v in item.variants if v.channel == channel.value), None)
    if variant is None:
        raise ProblemError(
            404,
            "not-found",
            f"the content item has no {channel.value} variant",
            resource="variant",
        )
    media_ids = list(variant.media_ids or item.media_ids)
    found = await repository.media_of_organization(session, item.organization_id, media_ids)
    media = [
        PreviewImage(
            media_id=medium.id,
            mime_type=medium.mime_type,
            width=medium.width,
            height=medium.height,
            crop=crop(channel, medium.width, medium.height)
            if medium.width and medium.height
            else None,
        )
        for medium in (found[media_id] for media_id in media_ids if media_id in found)
    ]
    preview = build(
        channel,
        text=variant.text,
        title=variant.title,
        link=variant.link,
        card_title=variant.title or item.title,
        card_description=item.body,
        media=media,
    )
    return render(preview)
