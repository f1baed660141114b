"""How a post's text is measured: its length in the unit a platform uses, hashtags, mentions.

Every count errs on the generous side (never below the platform's own count), so a text that
passes here is not refused by the platform for being too long.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

# What X, Mastodon and most clients turn into links: an http(s) URL, or a bare domain with a
# common top-level domain (twitter-text links bare domains too, and counts them as t.co links).
_COMMON_TLDS = (
    "com|net|org|info|biz|io|co|it|eu|uk|de|fr|es|ch|at|nl|be|pt|us|ca|app|dev|me|tv|ly|gov|edu"
)
URL_PATTERN = re.compile(
    r"https?://[^\s<>\"]+"
    rf"|(?<![\w@.\-/])(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+(?:{_COMMON_TLDS})\b(?:/[^\s<>\"]*)?",
    re.IGNORECASE,
)
HASHTAG_PATTERN = re.compile(r"(?<![\w&#])#\w+")
MENTION_PATTERN = re.compile(r"(?<![\w@])@\w[\w.]*")

# X counts every link as a t.co link of this length; Mastodon counts links the same way.
SHORTENED_URL_LENGTH = 23

# Code points X counts as one character; every other code point counts as two
# (https://docs.x.com/resources/fundamentals/counting-characters).
_X_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))


class Measure(StrEnum):
    """The unit a text limit is expressed in."""

    # JavaScript string length: the largest of the usual character counts (an emoji is two).
    CHARACTERS = "characters"
    UTF8_BYTES = "utf8_bytes"
    # X: NFC code points weighted 1 or 2, each link 23.
    X_WEIGHTED = "x_weighted"
    # Mastodon: characters, each link 23.
    CHARACTERS_LINKS_23 = "characters_links_23"


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _x_weight(character: str) -> int:
    code = ord(character)
    return 1 if any(low <= code <= high for low, high in _X_LIGHT_RANGES) else 2


def _split_links(text: str) -> tuple[str, int]:
    """The text without its links, and how many links it had."""
    links = URL_PATTERN.findall(text)
    return URL_PATTERN.sub("", text), len(links)


def measure(text: str, unit: Measure) -> int:
    normalized = unicodedata.normalize("NFC", text)
    if unit is Measure.CHARACTERS:
        return _utf16_length(normalized)
    if unit is Measure.UTF8_BYTES:
        return len(normalized.encode("utf-8"))
    rest, links = _split_links(normalized)
    if unit is Measure.X_WEIGHTED:
        return sum(_x_weight(character) for character in rest) + links * SHORTENED_URL_LENGTH
    return _utf16_length(rest) + links * SHORTENED_URL_LENGTH


def hashtags(text: str) -> list[str]:
    """Hashtags outside links (a URL fragment such as ``/#top`` is not a hashtag)."""
    return HASHTAG_PATTERN.findall(URL_PATTERN.sub(" ", text))


def mentions(text: str) -> list[str]:
    return MENTION_PATTERN.findall(URL_PATTERN.sub(" ", text))
