"""The one table of platform rules that every per-channel variant is validated against.

Each rule names the platform document it comes from (``source``). Where a platform documents
several limits for one thing (e.g. X: 5 MB images, 15 MB GIFs), the table keeps the strictest, so a
variant that passes here is accepted by the platform. Mastodon's limits are those of a stock
instance; an instance may configure its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import ClassVar, Literal

from pydantic import BaseModel

from services.content.text_counting import Measure, hashtags, measure, mentions
from shared.domain import Channel

TextField = Literal["text", "title", "link"]
Limit = int | float | str


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"


@dataclass(frozen=True)
class MediaFacts:
    """What the rules need to know about one attached medium."""

    mime_type: str
    size_bytes: int
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None

    @property
    def kind(self) -> MediaKind:
        return MediaKind(self.mime_type.partition("/")[0])


@dataclass(frozen=True)
class VariantCandidate:
    channel: Channel
    text: str
    title: str | None = None
    link: str | None = None
    media: tuple[MediaFacts, ...] = ()
    # Content variants have none; a post may be given some when it is scheduled.
    tags: tuple[str, ...] = ()

    def value_of(self, name: TextField) -> str:
        return getattr(self, name) or ""

    def text_with_link(self) -> str:
        """The text as it is posted where the platform has no link field: the link ends it,
        unless the text has it already."""
        if self.link and self.link not in self.text:
            return f"{self.text}\n{self.link}".strip()
        return self.text


class Violation(BaseModel):
    rule: str
    channel: Channel
    field: str
    limit: Limit
    actual: Limit
    message: str
    source: str


class RuleInfo(BaseModel):
    """One row of the table, as ``GET /platform-rules`` shows it."""

    channel: Channel
    rule: str
    field: str
    limit: Limit
    source: str


@dataclass(frozen=True)
class Rule(ABC):
    channel: Channel
    source: str

    rule: ClassVar[str]

    @property
    def field(self) -> str:
        """The variant field the rule constrains (media rules name ``media.<index>`` when found)."""
        return "media"

    @property
    @abstractmethod
    def limit(self) -> Limit: ...

    @abstractmethod
    def violations(self, candidate: VariantCandidate) -> Iterator[Violation]: ...

    def info(self) -> RuleInfo:
        return RuleInfo(
            channel=self.channel,
            rule=self.rule,
            field=self.field,
            limit=self.limit,
            source=self.source,
        )

    def _violation(self, field: str, actual: Limit, message: str) -> Violation:
        return Violation(
            rule=self.rule,
            channel=self.channel,
            field=field,
            limit=self.limit,
            actual=actual,
            message=message,
            source=self.source,
        )


@dataclass(frozen=True)
class TextRule(Rule, ABC):
    on: TextField

    @property
    def field(self) -> str:
        return self.on


@dataclass(frozen=True)
class MaxLength(TextRule):
    maximum: int
    unit: Measure = Measure.CHARACTERS
    # The platform has no link field, so the link is posted at the end of the text and counts.
    link_in_text: bool = False
    rule = "max_length"

    @property
    def limit(self) -> Limit:
        return self.maximum

    def violations(self, candidate: VariantCandidate) -> Iterator[Violation]:
        posted = candidate.text_with_link() if self.link_in_text else candidate.value_of(self.on)
        length = measure(posted, self.unit)
        if length > self.maximum:
            what = f"{self.on} with its link" if self.link_in_text and candidate.link else self.on
            yield self._violation(
                self.on, length, f"{what} counts {length} ({self.unit}), over {self.maximum}"
            )


@dataclass(frozen=True)
class Required(TextRule):
    rule = "required"

    @property
    def limit(self) -> Limit:
        return "present"

    def violations(self, candidate: VariantCandidate) -> Iterator[Violation]:
        if not candidate.value_of(self.on).strip():
            yield self._violation(self.on, "missing", f"{self.channel} needs a {self.on}")


@dataclass(frozen=True)
class ForbiddenCharacters(TextRule):
    characters: str
    rule = "forbidden_characters"

    @property
    def limit(self) -> Limit:
        return f"none of {self.characters}"

    def violations(self, candidate: VariantCandidate) -> Iterator[Violation]:
        found = sorted(set(candidate.value_of(self.on)) & set(self.characters))
        if found:
            yield self._violation(
                self.on, "".join(found), f"{self.on} may not contain {''.join(found)}"
            )


@dataclass(frozen=True)
class NotEmpty(Rule):
    """A post needs something to show: text, a link or media."""

    rule = "not_empty"

    @property
    def field(self) -> str:
        return "text"

    @property
    def limit(self) -> Limit:
        return "text, a link or media"

    def violations(self, candidate: VariantCandidate) -> Iterator[Violation]:
        if not (candidate.text.strip() or candidate.link or candidate.media):
            yield self._violation("text", "empty", f"a {self.channel} post cannot be empty")


@dataclass(frozen=True)
class MaxHashtags(Rule):
    maximum: int
    rule = "max_hashtags"

    @property
    def field(self) -> str:
        return "text"

    @property
    def limit(self) -> Limit:
        return self.maximum

    def violations(self, candidate: VariantCandidate) -> Iterator[Violation]:
        count = len(hashtags(candidate.text))
        if count > self.maximum:
            yield self._violation("text", count, f"{count} hashtags, over {self.maximum}")


@dataclass(frozen=True)
class MaxMentions(Rule):
    maximum: int
    rule = "max_mentions"

    @property
    def field(self) -> str:
        return "text"

    @property
    def limit(self) -> Limit:
        return self.maximum

    def violations(self, candidate: VariantCandidate) -> Iterator[Violation]:
        count = len(mentions(candidate.text))
        if count > self.maximum:
            yield self._violation("text", count, f"{count} mentions, over {self.maximum}")


@dataclass(frozen=True)
class MediaCount(Rule):
    """How many media (of one kind, or of any kind) a post carries."""

    minimum: int
    maximum: int
    kind: MediaKind | None = None
    rule = "media_count"

    @property
    def limit(self) -> Limit:
        what = f"{self.kind} media" if self.kind else "media"
        return f"{self.minimum}..{self.maximum} {what}"

    def violations(self, candidate: VariantCandidate) -> Iterator[Violation]:
        count = sum(1 for m in candidate.media if self.kind is None or m.kind == self.kind)
        if not self.minimum <= count <= self.maximum:
            yield self._violation("media", count, f"{count} attached, expected {self.limit}")


@dataclass(frozen=True)
class MediaAlone(Rule):
    """Media of these types go alone: a post with one of them carries nothing else."""

    types: frozenset[str]
    rule = "media_mix"

    @property
    def limit(self) -> Limit:
        return f"{', '.join(sorted(self.types))}: only alone"

    def violations(self, candidate: VariantCandidate) -> Iterator[Violation]:
        count = len(candidate.media)
        lone = next((m.mime_type for m in candidate.media if m.mime_type in self.types), None)
        if lone is not None and count > 1:
            yield self._violation(
                "media", count, f"{lone} must be the only medium, {count} attached"
            )


@dataclass(frozen=True)
class MediaTypes(Rule):
    allowed: frozenset[str]
    rule = "media_type"

    @property
    def limit(self) -> Limit:
        return ", ".join(sorted(self.allowed))

    def violations(self, candidate: VariantCandidate) -> Iterator[Violation]:
        for index, medium in enumerate(candidate.media):
            if medium.mime_type not in self.allowed:
                yield self._violation(
                    f"media.{index}",
                    medium.mime_type,
                    f"{self.channel} does not accept {medium.mime_type}",
                )


@dataclass(frozen=True)
class MaxMediaSize(Rule):
    kind: MediaKind
    maximum_bytes: int
    rule = "media_size"

    @property
    def limit(self) -> Limit:
        return self.maximum_bytes

    def violations(self, candidate: VariantCandidate) -> Iterator[Violation]:
        for index, medium in enumerate(candidate.media):
            if medium.kind == self.kind and medium.size_bytes > self.maximum_bytes:
                yield self._violation(
                    f"media.{index}",
                    medium.size_bytes,
                    f"{self.kind} of {medium.size_bytes} bytes, over {self.maximum_bytes}",
                )


@dataclass(frozen=True)
class AspectRatio(Rule):
    """Width divided by height, between two bounds (4:5 is 0.8, 1.91:1 is 1.91)."""

    kind: MediaKind
    minimum: Fraction
    maximum: Fraction
    rule = "aspect_ratio"

    @property
    def limit(self) -> Limit:
        return f"{float(self.minimum):.4g}..{float(self.maximum):.4g}"

    def violations(self, candidate: VariantCandidate) -> Iterator[Violation]:
        for index, medium in enumerate(candidate.media):
            if medium.kind != self.kind:
                continue
            if not medium.width or not medium.height:
                # Unknown dimensions cannot be shown to fit: refuse rather than guess.
                yield self._violation(f"media.{index}", "unknown", "dimensions are unknown")
                continue
            ratio = Fraction(medium.width, medium.height)
            if not self.minimum <= ratio <= self.maximum:
                yield self._violation(
                    f"media.{index}",
                    round(float(ratio), 4),
                    f"{medium.width}x{medium.height} is outside {self.limit}",
                )


@dataclass(frozen=True)
class VideoDuration(Rule):
    minimum_seconds: float
    maximum_seconds: float
    rule = "video_duration"

    @property
    def limit(self) -> Limit:
        return f"{self.minimum_seconds:g}..{self.maximum_seconds:g} s"

    def violations(self, candidate: VariantCandidate) -> Iterator[Violation]:
        for index, medium in enumerate(candidate.media):
            if medium.kind != MediaKind.VIDEO:
                continue
            duration = medium.duration_seconds
            if duration is None:
                yield self._violation(f"media.{index}", "unknown", "the duration is unknown")
            elif not self.minimum_seconds <= duration <= self.maximum_seconds:
                yield self._violation(
                    f"media.{index}",
                    round(duration, 3),
                    f"a {duration:g} s video is outside {self.limit}",
                )


@dataclass(frozen=True)
class TagListLength(Rule):
    """All tags together, counted as YouTube counts them: a comma between two tags, and quotes
    around a tag with a space."""

    maximum: int
    rule = "tags_length"

    @property
    def field(self) -> str:
        return "tags"

    @property
    def limit(self) -> Limit:
        return self.maximum

    def violations(self, candidate: VariantCandidate) -> Iterator[Violation]:
        tags = candidate.tags
        length = sum(measure(tag, Measure.CHARACTERS) + 2 * (" " in tag) for tag in tags)
        length += max(len(tags) - 1, 0)
        if length > self.maximum:
            yield self._violation("tags", length, f"the tags count {length}, over {self.maximum}")


MB = 1_000_000
IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
VIDEOS = frozenset({"video/mp4", "video/quicktime"})

_X_COUNTING = "https://docs.x.com/resources/fundamentals/counting-characters"
_X_MEDIA = (
    "https://developer.x.com/en/docs/x-api/v1/media/upload-media/uploading-media/"
    "media-best-practices"
)
_INSTAGRAM_MEDIA = (
    "https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/"
    "ig-user/media"
)
_INSTAGRAM_PUBLISHING = "https://developers.facebook.com/docs/instagram-platform/content-publishing"
_FACEBOOK_FEED = "https://developers.facebook.com/docs/graph-api/reference/page/feed/"
_FACEBOOK_PHOTOS = "https://developers.facebook.com/docs/graph-api/reference/page/photos/"
_FACEBOOK_VIDEO = "https://developers.facebook.com/docs/video-api/guides/publishing"
_YOUTUBE_VIDEOS = "https://developers.google.com/youtube/v3/docs/videos#properties"
_YOUTUBE_HASHTAGS = "https://support.google.com/youtube/answer/6390658"
_YOUTUBE_UPLOADS = "https://support.google.com/youtube/answer/71673"
_PINTEREST_PINS = "https://developers.pinterest.com/docs/api/v5/pins-create"
_PINTEREST_SPECS = "https://help.pinterest.com/en/business/article/pinterest-product-specs"
_VIMEO_VIDEOS = "https://developer.vimeo.com/api/reference/videos#edit_video"
_SPOTIFY_EPISODES = "https://support.spotify.com/creators/article/episode-requirements/"
_FOURSQUARE_TIPS = "https://docs.foursquare.com/developer/reference/v2-tips-add"
_MASTODON_POSTING = "https://docs.joinmastodon.org/user/posting/"
_MASTODON_STATUSES = "https://docs.joinmastodon.org/methods/statuses/#create"
_MASTODON_MEDIA = "https://docs.joinmastodon.org/methods/media/#v2"
_SANDBOX = "urn:atlantide-engage:sandbox (the built-in demo platform)"

X, IG, FB, YT = Channel.X, Channel.INSTAGRAM, Channel.FACEBOOK, Channel.YOUTUBE
PIN, VIMEO, SPOTIFY, FSQ = Channel.PINTEREST, Channel.VIMEO, Channel.SPOTIFY, Channel.FOURSQUARE
MASTODON, SANDBOX = Channel.MASTODON, Channel.SANDBOX
IMAGE, VIDEO, AUDIO = MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO

RULES: tuple[Rule, ...] = (
    MaxLength(X, _X_COUNTING, "text", 280, Measure.X_WEIGHTED, link_in_text=True),
    MediaCount(X, _X_MEDIA, 0, 4),
    # Up to four photos, or one GIF, or one video.
    MediaAlone(X, _X_MEDIA, VIDEOS | {"image/gif"}),
    MediaTypes(X, _X_MEDIA, IMAGES | VIDEOS),
    MaxMediaSize(X, _X_MEDIA, IMAGE, 5 * MB),
    MaxMediaSize(X, _X_MEDIA, VIDEO, 512 * MB),
    VideoDuration(X, _X_MEDIA, 0.5, 140),
    MaxLength(IG, _INSTAGRAM_MEDIA, "text", 2200),
    MaxHashtags(IG, _INSTAGRAM_MEDIA, 30),
    MaxMentions(IG, _INSTAGRAM_MEDIA, 20),
    MediaCount(IG, _INSTAGRAM_PUBLISHING, 1, 10),
    MediaTypes(IG, _INSTAGRAM_MEDIA, frozenset({"image/jpeg"}) | VIDEOS),
    MaxMediaSize(IG, _INSTAGRAM_MEDIA, IMAGE, 8 * MB),
    AspectRatio(IG, _INSTAGRAM_MEDIA, IMAGE, Fraction(4, 5), Fraction(191, 100)),
    MaxMediaSize(IG, _INSTAGRAM_MEDIA, VIDEO, 300 * MB),
    VideoDuration(IG, _INSTAGRAM_MEDIA, 3, 15 * 60),
    MaxLength(FB, _FACEBOOK_FEED, "text", 63_206),
    NotEmpty(FB, _FACEBOOK_FEED),
    # A photo or a video post carries one medium.
    MediaCount(FB, _FACEBOOK_PHOTOS, 0, 1),
    MediaTypes(FB, _FACEBOOK_PHOTOS, IMAGES | VIDEOS),
    MaxMediaSize(FB, _FACEBOOK_PHOTOS, IMAGE, 4 * MB),
    VideoDuration(FB, _FACEBOOK_VIDEO, 1, 240 * 60),
    Required(YT, _YOUTUBE_VIDEOS, "title"),
    MaxLength(YT, _YOUTUBE_VIDEOS, "title", 100),
    ForbiddenCharacters(YT, _YOUTUBE_VIDEOS, "title", "<>"),
    MaxLength(YT, _YOUTUBE_VIDEOS, "text", 5000, Measure.UTF8_BYTES, link_in_text=True),
    ForbiddenCharacters(YT, _YOUTUBE_VIDEOS, "text", "<>"),
    MaxHashtags(YT, _YOUTUBE_HASHTAGS, 60),
    TagListLength(YT, _YOUTUBE_VIDEOS, 500),
    MediaCount(YT, _YOUTUBE_UPLOADS, 1, 1),
    MediaTypes(YT, _YOUTUBE_UPLOADS, VIDEOS),
    VideoDuration(YT, _YOUTUBE_UPLOADS, 1, 12 * 3600),
    MaxLength(PIN, _PINTEREST_PINS, "title", 100),
    MaxLength(PIN, _PINTEREST_PINS, "text", 500),
    MaxLength(PIN, _PINTEREST_PINS, "link", 2048),
    MediaCount(PIN, _PINTEREST_SPECS, 1, 5),
    # Images only: pins are created from image URLs (``image_url``, ``multiple_image_urls``);
    # a video pin needs Pinterest's media upload, which the publisher does not implement.
    MediaTypes(PIN, _PINTEREST_PINS, frozenset({"image/jpeg", "image/png", "image/webp"})),
    MaxMediaSize(PIN, _PINTEREST_SPECS, IMAGE, 20 * MB),
    Required(VIMEO, _VIMEO_VIDEOS, "title"),
    MaxLength(VIMEO, _VIMEO_VIDEOS, "title", 128),
    MediaCount(VIMEO, _VIMEO_VIDEOS, 1, 1),
    MediaTypes(VIMEO, _VIMEO_VIDEOS, VIDEOS),
    Required(SPOTIFY, _SPOTIFY_EPISODES, "title"),
    MaxLength(SPOTIFY, _SPOTIFY_EPISODES, "text", 4000),
    MediaCount(SPOTIFY, _SPOTIFY_EPISODES, 1, 1, AUDIO),
    MediaTypes(SPOTIFY, _SPOTIFY_EPISODES, frozenset({"audio/mpeg", "audio/mp4", "audio/wav"})),
    MaxLength(FSQ, _FOURSQUARE_TIPS, "text", 200),
    MediaCount(FSQ, _FOURSQUARE_TIPS, 0, 0),
    MaxLength(
        MASTODON, _MASTODON_POSTING, "text", 500, Measure.CHARACTERS_LINKS_23, link_in_text=True
    ),
    MediaCount(MASTODON, _MASTODON_STATUSES, 0, 4),
    MediaTypes(MASTODON, _MASTODON_MEDIA, IMAGES | VIDEOS),
    MaxMediaSize(MASTODON, _MASTODON_MEDIA, IMAGE, 16 * MB),
    MaxMediaSize(MASTODON, _MASTODON_MEDIA, VIDEO, 99 * MB),
    MaxLength(SANDBOX, _SANDBOX, "text", 1000),
    MaxLength(SANDBOX, _SANDBOX, "link", 2000),
    NotEmpty(SANDBOX, _SANDBOX),
    MediaCount(SANDBOX, _SANDBOX, 0, 4),
    MediaTypes(SANDBOX, _SANDBOX, IMAGES | VIDEOS),
)


def rules_for(channel: Channel) -> tuple[Rule, ...]:
    return tuple(rule for rule in RULES if rule.channel == channel)


def shows_title(channel: Channel) -> bool:
    """Channels whose posts have a title (a video, a pin, an episode) besides their text."""
    return any(rule.field == "title" for rule in rules_for(channel))


def check(candidate: VariantCandidate) -> list[Violation]:
    return [
        violation
        for rule in rules_for(candidate.channel)
        for violation in rule.violations(candidate)
    ]
