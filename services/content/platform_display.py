"""How each platform shows a post in its feed: the display half of the platform rules table.

``platform_rules.RULES`` says what a platform accepts; this table says what a reader sees of it
first: how much text before the "see more" and what that link says, the shape images are cropped
to where the rules table gives no range of its own, and how a link shows. These are the
platforms' feeds as observed (mobile apps, Italian accounts, 2026): platforms change them without
notice, so each row names where it was seen, and a preview is a guide, not a promise.

Pure data and arithmetic, no database code: the strategy service's handbook reads it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from services.content.platform_rules import AspectRatio, MediaKind, rules_for
from shared.domain import Channel

# ``large``: image above domain and title (Open Graph card); ``small``: a thumbnail beside them;
# ``pin``: the post itself leads to the link; ``none``: the link is plain text, not clickable.
LinkCard = Literal["large", "small", "pin", "none"]


@dataclass(frozen=True)
class Display:
    channel: Channel
    name: str
    # Characters of text shown before the "see more"; None when the feed shows it whole.
    truncate_at: int | None
    see_more: str
    # Widths over heights the feed shows an image at uncropped (one ratio: it always crops),
    # when the rules table has no aspect-ratio range for the channel.
    image_ratios: tuple[Fraction, Fraction]
    link_card: LinkCard
    # Characters of the title the feed shows (videos, pins, episodes), when it has one.
    title_truncate_at: int | None
    source: str


_OBSERVED = "observed in the platform's mobile feed, 2026"

DISPLAYS: dict[Channel, Display] = {
    display.channel: display
    for display in (
        Display(
            Channel.FACEBOOK,
            "Facebook",
            477,
            "See more",
            (Fraction(4, 5), Fraction(191, 100)),
            "large",
            None,
            f"https://www.facebook.com/business/ads-guide ({_OBSERVED})",
        ),
        Display(
            Channel.INSTAGRAM,
            "Instagram",
            125,
            "more",
            (Fraction(1, 1), Fraction(1, 1)),
            "none",
            None,
            f"https://help.instagram.com/1631821640426723 ({_OBSERVED})",
        ),
        Display(
            Channel.X,
            "X",
            280,
            "Show more",
            (Fraction(16, 9), Fraction(16, 9)),
            "large",
            None,
            f"https://help.x.com/en/using-x/how-to-post ({_OBSERVED})",
        ),
        Display(
            Channel.YOUTUBE,
            "YouTube",
            157,
            "...more",
            (Fraction(16, 9), Fraction(16, 9)),
            "none",
            70,
            f"https://support.google.com/youtube/answer/72431 ({_OBSERVED})",
        ),
        Display(
            Channel.PINTEREST,
            "Pinterest",
            50,
            "more",
            (Fraction(10, 21), Fraction(191, 100)),
            "pin",
            40,
            f"https://help.pinterest.com/en/business/article/pinterest-product-specs ({_OBSERVED})",
        ),
        Display(
            Channel.VIMEO,
            "Vimeo",
            300,
            "Read more",
            (Fraction(16, 9), Fraction(16, 9)),
            "none",
            60,
            f"https://vimeo.com/help ({_OBSERVED})",
        ),
        Display(
            Channel.SPOTIFY,
            "Spotify",
            200,
            "See more",
            (Fraction(1, 1), Fraction(1, 1)),
            "none",
            60,
            f"https://support.spotify.com/creators/ ({_OBSERVED})",
        ),
        Display(
            Channel.FOURSQUARE,
            "Foursquare",
            None,
            "",
            (Fraction(1, 1), Fraction(1, 1)),
            "none",
            None,
            f"https://foursquare.com ({_OBSERVED})",
        ),
        Display(
            Channel.MASTODON,
            "Mastodon",
            None,
            "",
            (Fraction(16, 9), Fraction(16, 9)),
            "large",
            None,
            "https://docs.joinmastodon.org/user/posting/ (a stock instance's web client)",
        ),
        Display(
            Channel.SANDBOX,
            "Sandbox",
            280,
            "see more",
            (Fraction(1, 1), Fraction(1, 1)),
            "large",
            None,
            "urn:atlantide-engage:sandbox (the built-in demo platform)",
        ),
    )
}


def display_of(channel: Channel) -> Display:
    return DISPLAYS[channel]


def image_ratio_range(channel: Channel) -> tuple[Fraction, Fraction]:
    """The widths over heights the feed shows uncropped: the rules table's range for images
    where it has one, the display's one ratio otherwise."""
    for rule in rules_for(channel):
        if isinstance(rule, AspectRatio) and rule.kind == MediaKind.IMAGE:
            return rule.minimum, rule.maximum
    return DISPLAYS[channel].image_ratios


@dataclass(frozen=True)
class Crop:
    """The part of an image the feed shows, in the image's own pixels."""

    width: int
    height: int
    left: int
    top: int
    ratio: Fraction

    @property
    def cropped(self) -> bool:
        return self.left > 0 or self.top > 0


def crop(channel: Channel, width: int, height: int) -> Crop:
    """Centred crop of a ``width`` x ``height`` image to the nearest ratio the feed shows."""
    low, high = image_ratio_range(channel)
    ratio = Fraction(width, height)
    target = min(max(ratio, low), high)
    if ratio > target:  # too wide: keep the height
        kept_width = max(1, round(height * target))
        return Crop(kept_width, height, (width - kept_width) // 2, 0, target)
    kept_height = max(1, round(width / target))
    return Crop(width, kept_height, 0, (height - kept_height) // 2, target)


def truncate(text: str, at: int | None) -> tuple[str, bool]:
    """The text the feed shows before its "see more", and whether it was cut. A cut falls on
    the last space before the limit (feeds do not split words) unless that loses over a fifth."""
    if at is None or len(text) <= at:
        return text, False
    cut = text[:at]
    space = cut.rfind(" ")
    if space >= at * 4 // 5:
        cut = cut[:space]
    return cut.rstrip(), True


def ratio_label(ratio: Fraction) -> str:
    """4:5, 16:9, 1.91:1."""
    if ratio.denominator <= 20:
        return f"{ratio.numerator}:{ratio.denominator}"
    return f"{float(ratio):.3g}:1"
