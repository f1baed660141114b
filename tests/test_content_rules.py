"""The platform rules table, text counting, the media probe and the S3 request signer.

The properties build texts from known pieces (words, wide characters, emoji, links, hashtags,
mentions) whose weight on each platform is known by construction, so the check is compared with
an oracle that does not share its code: a variant passes exactly when no limit is exceeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.content import media_probe, platform_rules
from services.content.platform_rules import (
    AspectRatio,
    MaxHashtags,
    MaxLength,
    MaxMediaSize,
    MaxMentions,
    MediaAlone,
    MediaCount,
    MediaFacts,
    MediaKind,
    MediaTypes,
    VariantCandidate,
    VideoDuration,
)
from services.content.storage import SigV4Signer
from services.content.text_counting import Measure, measure
from shared.domain import Channel
from tests.test_content_media import gif, jpeg, mp4, png, webp_lossless


@dataclass(frozen=True)
class Piece:
    """A piece of text and what it weighs in each unit (its separator space included)."""

    text: str
    characters: int
    utf8_bytes: int
    x_weighted: int
    links_23: int
    hashtags: int = 0
    mentions: int = 0


LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _plain(text: str, x_weight: int, characters: int) -> Piece:
    return Piece(text, characters, len(text.encode()), x_weight, characters)


words = st.text(LETTERS, min_size=1, max_size=12).map(lambda w: _plain(w, len(w), len(w)))
# é counts 1 on X, 界 counts 2; the emoji is two UTF-16 units and counts 2 on X.
wide = st.sampled_from(
    [_plain("é", 1, 1), _plain("界", 2, 1), _plain("😀", 2, 2), _plain("Ω", 1, 1)]
)
links = st.text(LETTERS + "0123456789", max_size=60).map(
    lambda path: Piece(
        f"https://example.com/{path}",
        characters=len(f"https://example.com/{path}"),
        utf8_bytes=len(f"https://example.com/{path}"),
        x_weighted=23,
        links_23=23,
    )
)
tags = st.text(LETTERS, min_size=1, max_size=10).map(
    lambda w: Piece("#" + w, len(w) + 1, len(w) + 1, len(w) + 1, len(w) + 1, hashtags=1)
)
handles = st.text(LETTERS, min_size=1, max_size=10).map(
    lambda w: Piece("@" + w, len(w) + 1, len(w) + 1, len(w) + 1, len(w) + 1, mentions=1)
)
pieces = st.lists(st.one_of(words, wide, links, tags, handles), max_size=160)


def _total(parts: list[Piece], unit: str) -> int:
    spaces = max(len(parts) - 1, 0)
    return sum(int(getattr(part, unit)) for part in parts) + spaces


ORACLE_UNITS = {
    Measure.CHARACTERS: "characters",
    Measure.UTF8_BYTES: "utf8_bytes",
    Measure.X_WEIGHTED: "x_weighted",
    Measure.CHARACTERS_LINKS_23: "links_23",
}
TEXT_CHANNELS = sorted({rule.channel for rule in platform_rules.RULES}, key=str)


def _expected_text_breaches(channel: Channel, parts: list[Piece]) -> set[str]:
    breaches = set()
    for rule in platform_rules.rules_for(channel):
        if isinstance(rule, MaxLength) and rule.on == "text":
            if _total(parts, ORACLE_UNITS[rule.unit]) > rule.maximum:
                breaches.add("max_length")
        elif isinstance(rule, MaxHashtags):
            if sum(part.hashtags for part in parts) > rule.maximum:
                breaches.add("max_hashtags")
        elif isinstance(rule, MaxMentions) and sum(part.mentions for part in parts) > rule.maximum:
            breaches.add("max_mentions")
    return breaches


@settings(max_examples=300, deadline=None)
@given(channel=st.sampled_from(TEXT_CHANNELS), parts=pieces)
def test_a_text_passes_exactly_when_it_exceeds_no_limit_of_its_channel(
    channel: Channel, parts: list[Piece]
) -> None:
    text = " ".join(part.text for part in parts)
    found = {
        v.rule
        for v in platform_rules.check(VariantCandidate(channel, text))
        if v.field == "text" and v.rule in {"max_length", "max_hashtags", "max_mentions"}
    }
    assert found == _expected_text_breaches(channel, parts)


@settings(max_examples=200, deadline=None)
@given(
    channel=st.sampled_from([Channel.YOUTUBE, Channel.PINTEREST, Channel.VIMEO]),
    title=st.text(LETTERS + " éü", max_size=200),
)
def test_a_title_passes_only_within_its_channels_limit(channel: Channel, title: str) -> None:
    limit = next(
        rule.maximum
        for rule in platform_rules.rules_for(channel)
        if isinstance(rule, MaxLength) and rule.on == "title"
    )
    candidate = VariantCandidate(channel, "", title=title)
    broken = {v.rule for v in platform_rules.check(candidate) if v.field == "title"}
    assert ("max_length" in broken) == (len(title) > limit)


MIME_TYPES = sorted(media_probe.SUPPORTED_TYPES)
media_facts = st.builds(
    MediaFacts,
    mime_type=st.sampled_from(MIME_TYPES),
    size_bytes=st.integers(1, 600_000_000),
    width=st.one_of(st.none(), st.integers(1, 4000)),
    height=st.one_of(st.none(), st.integers(1, 4000)),
    duration_seconds=st.one_of(st.none(), st.floats(0, 20 * 3600, allow_nan=False)),
)


def _media_within(rule: platform_rules.Rule, media: tuple[MediaFacts, ...]) -> bool:
    """The oracle for one media rule, from the rule's declared limits."""
    if isinstance(rule, MediaCount):
        count = sum(1 for m in media if rule.kind is None or m.kind == rule.kind)
        return rule.minimum <= count <= rule.maximum
    if isinstance(rule, MediaTypes):
        return all(m.mime_type in rule.allowed for m in media)
    if isinstance(rule, MediaAlone):
        return len(media) <= 1 or not any(m.mime_type in rule.types for m in media)
    if isinstance(rule, MaxMediaSize):
        return all(m.size_bytes <= rule.maximum_bytes for m in media if m.kind == rule.kind)
    if isinstance(rule, AspectRatio):
        return all(
            m.width is not None
            and m.height is not None
            and rule.minimum <= Fraction(m.width, m.height) <= rule.maximum
            for m in media
            if m.kind == rule.kind
        )
    if isinstance(rule, VideoDuration):
        return all(
            m.duration_seconds is not None
            and rule.minimum_seconds <= m.duration_seconds <= rule.maximum_seconds
            for m in media
            if m.kind == MediaKind.VIDEO
        )
    return True


@settings(max_examples=400, deadline=None)
@given(
    channel=st.sampled_from(list(Channel)),
    media=st.lists(media_facts, max_size=6).map(tuple),
)
def test_media_that_pass_never_exceed_a_media_limit(
    channel: Channel, media: tuple[MediaFacts, ...]
) -> None:
    candidate = VariantCandidate(channel, "", title="A title", media=media)
    media_violations = [v for v in platform_rules.check(candidate) if v.field.startswith("media")]
    within = all(_media_within(rule, media) for rule in platform_rules.rules_for(channel))
    assert (not media_violations) == within


def test_x_counts_every_link_as_23_characters() -> None:
    link = "https://www.example.com/" + "a" * 100
    fits = VariantCandidate(Channel.X, "a" * 256 + " " + link)
    over = VariantCandidate(Channel.X, "a" * 257 + " " + link)
    assert platform_rules.check(fits) == []
    (violation,) = platform_rules.check(over)
    assert (violation.rule, violation.field, violation.limit, violation.actual) == (
        "max_length",
        "text",
        280,
        281,
    )
    assert violation.source.startswith("https://docs.x.com/")


def test_x_counts_wide_characters_twice() -> None:
    assert platform_rules.check(VariantCandidate(Channel.X, "界" * 140)) == []
    assert platform_rules.check(VariantCandidate(Channel.X, "界" * 141))[0].actual == 282


def test_youtube_descriptions_are_counted_in_bytes_and_titles_are_required() -> None:
    video = (MediaFacts("video/mp4", 1000, 1920, 1080, 60.0),)
    accented = VariantCandidate(Channel.YOUTUBE, "é" * 2501, title="Tour", media=video)
    (violation,) = platform_rules.check(accented)
    assert (violation.rule, violation.actual) == ("max_length", 5002)
    untitled = platform_rules.check(VariantCandidate(Channel.YOUTUBE, "ok", media=video))
    assert [(v.rule, v.field) for v in untitled] == [("required", "title")]


def test_instagram_limits_hashtags_mentions_and_image_shape() -> None:
    portrait = MediaFacts("image/jpeg", 500_000, 1080, 1350)
    text = " ".join(f"#t{n}" for n in range(31)) + " " + " ".join(f"@u{n}" for n in range(21))
    found = platform_rules.check(VariantCandidate(Channel.INSTAGRAM, text, media=(portrait,)))
    assert {(v.rule, v.actual) for v in found} == {("max_hashtags", 31), ("max_mentions", 21)}
    too_tall = MediaFacts("image/jpeg", 500_000, 1000, 2000)
    (shape,) = platform_rules.check(VariantCandidate(Channel.INSTAGRAM, "", media=(too_tall,)))
    assert (shape.rule, shape.field, shape.actual) == ("aspect_ratio", "media.0", 0.5)


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("ciao", 4),
        ("è", 1),
        ("葡萄酒", 6),
        ("🍇", 2),
        ("vedi https://laquercia.example/a/very/long/path", 28),
    ],
)
def test_x_weighs_characters_and_links_as_its_counting_rules_say(text: str, length: int) -> None:
    assert measure(text, Measure.X_WEIGHTED) == length


LINK = "https://laquercia.example/vendemmia"


@pytest.mark.parametrize(
    ("channel", "text", "limit"),
    [
        (Channel.X, "a" * 256, 280),
        (Channel.MASTODON, "a" * 476, 500),
        (Channel.YOUTUBE, "é" * 2482, 5000),
    ],
)
def test_where_a_link_ends_the_posted_text_it_counts(
    channel: Channel, text: str, limit: int
) -> None:
    """No link field: the link is posted after a line break, and counts 23 (or its bytes)."""
    video = (MediaFacts("video/mp4", 1000, 1920, 1080, 60.0),)

    def lengths(candidate: VariantCandidate) -> list[object]:
        found = platform_rules.check(candidate)
        return [v.actual for v in found if (v.rule, v.field) == ("max_length", "text")]

    fits = VariantCandidate(channel, text, title="Tour", link=LINK, media=video)
    over = VariantCandidate(channel, text + "a", title="Tour", link=LINK, media=video)
    assert lengths(fits) == []
    assert lengths(over) == [limit + 1]
    # A text that already has its link does not count it twice.
    assert lengths(VariantCandidate(channel, f"{text} {LINK}", link=LINK, media=video)) == []


PHOTO = MediaFacts("image/jpeg", 500_000, 1080, 1080)
PNG = MediaFacts("image/png", 500_000, 1080, 1080)
GIF = MediaFacts("image/gif", 500_000, 400, 400)
CLIP = MediaFacts("video/mp4", 5_000_000, 1920, 1080, 30.0)
SONG = MediaFacts("audio/mpeg", 1000, duration_seconds=60.0)


@pytest.mark.parametrize(
    ("candidate", "broken"),
    [
        # X: up to four photos, or one GIF, or one video.
        (VariantCandidate(Channel.X, "ok", media=(PHOTO,) * 4), set()),
        (VariantCandidate(Channel.X, "ok", media=(PHOTO, CLIP)), {("media_mix", "media")}),
        (VariantCandidate(Channel.X, "ok", media=(GIF, GIF)), {("media_mix", "media")}),
        # Facebook: one medium a post, and never an empty post.
        (VariantCandidate(Channel.FACEBOOK, "", link=LINK), set()),
        (VariantCandidate(Channel.FACEBOOK, " "), {("not_empty", "text")}),
        (
            VariantCandidate(Channel.FACEBOOK, "ok", media=(PHOTO, PHOTO)),
            {("media_count", "media")},
        ),
        # Instagram: one to ten media, JPEG the only image type.
        (VariantCandidate(Channel.INSTAGRAM, "ok"), {("media_count", "media")}),
        (VariantCandidate(Channel.INSTAGRAM, "ok", media=(PNG,)), {("media_type", "media.0")}),
        # Pinterest: images only.
        (VariantCandidate(Channel.PINTEREST, "ok", media=(CLIP,)), {("media_type", "media.0")}),
        # YouTube: all tags together at most 500, commas and quotes included.
        (
            VariantCandidate(Channel.YOUTUBE, "ok", title="T", media=(CLIP,), tags=("a b",) * 83),
            set(),
        ),
        (
            VariantCandidate(Channel.YOUTUBE, "ok", title="T", media=(CLIP,), tags=("a b",) * 84),
            {("tags_length", "tags")},
        ),
        # Vimeo: one video, titled.
        (VariantCandidate(Channel.VIMEO, "ok", title="T"), {("media_count", "media")}),
        # The sandbox: something to show, its media types, links up to 2,000.
        (VariantCandidate(Channel.SANDBOX, ""), {("not_empty", "text")}),
        (VariantCandidate(Channel.SANDBOX, "ok", media=(SONG,)), {("media_type", "media.0")}),
        (
            VariantCandidate(Channel.SANDBOX, "ok", link=LINK + "/" + "a" * 2000),
            {("max_length", "link")},
        ),
    ],
)
def test_what_each_platform_refuses(
    candidate: VariantCandidate, broken: set[tuple[str, str]]
) -> None:
    assert {(v.rule, v.field) for v in platform_rules.check(candidate)} == broken


def test_links_inside_urls_are_not_hashtags() -> None:
    text = "https://example.com/page#section @mario"
    assert platform_rules.check(VariantCandidate(Channel.MASTODON, text)) == []
    found = platform_rules.check(VariantCandidate(Channel.FOURSQUARE, "x" * 201))
    assert [(v.rule, v.channel) for v in found] == [("max_length", Channel.FOURSQUARE)]


def test_every_rule_cites_its_source() -> None:
    for rule in platform_rules.RULES:
        assert rule.source.startswith(("https://", "urn:")), rule
    channels = {rule.channel for rule in platform_rules.RULES}
    assert channels == set(Channel)


def test_the_probe_reads_type_and_size_from_the_bytes() -> None:
    assert media_probe.probe(png(12, 34)) == media_probe.Probe("image/png", 12, 34)
    assert media_probe.probe(jpeg(640, 480)) == media_probe.Probe("image/jpeg", 640, 480)
    assert media_probe.probe(gif(5, 7)) == media_probe.Probe("image/gif", 5, 7)
    assert media_probe.probe(webp_lossless(300, 200)) == media_probe.Probe("image/webp", 300, 200)
    assert media_probe.probe(mp4(1920, 1080, 90)) == media_probe.Probe(
        "video/mp4", 1920, 1080, 90.0
    )
    assert media_probe.probe(b"ID3\x04rest") == media_probe.Probe("audio/mpeg")
    assert media_probe.probe(b"plain text") is None


@given(st.binary(max_size=200))
def test_the_probe_never_fails_on_truncated_or_random_bytes(data: bytes) -> None:
    for prefix in (b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\x00\x00\x00\x00WEBP"):
        found = media_probe.probe(prefix + data)
        assert found is None or found.mime_type in media_probe.SUPPORTED_TYPES
    truncated = mp4(640, 360, 5)[: 8 + len(data) % 120]
    assert media_probe.probe(truncated) is not None


def test_sigv4_matches_the_aws_documentation_example() -> None:
    """AWS's published "GET Object" example (Signature Version 4, header authorisation)."""
    signer = SigV4Signer(
        "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3"
    )
    headers = signer.headers(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        {"Range": "bytes=0-9"},
        now=datetime(2013, 5, 24, tzinfo=UTC),
    )
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
