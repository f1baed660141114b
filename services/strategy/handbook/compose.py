"""The client handbook ("guida pratica all'uso delle piattaforme"), composed from what was agreed:
the approved channel mix (which channels), editorial rules (what to post, when, tone, do/don't),
graphic line (image formats, palette, fonts) and positioning (voice, words, how to answer), and
from the content service's platform tables (what each platform accepts and how its feed shows
a post), read through their pure modules. No database code: the service passes the bodies in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from services.content.platform_display import display_of, image_ratio_range, ratio_label
from services.content.platform_rules import (
    AspectRatio,
    ForbiddenCharacters,
    MaxHashtags,
    MaxLength,
    MaxMediaSize,
    MaxMentions,
    MediaAlone,
    MediaCount,
    MediaTypes,
    Required,
    Rule,
    TagListLength,
    VideoDuration,
    rules_for,
)
from services.content.text_counting import Measure
from services.strategy.channel_mix.schemas import ChannelMix
from services.strategy.deliverables.kinds import GraphicLine
from services.strategy.deliverables.positioning import Positioning
from services.strategy.handbook.content import (
    ChannelGuide,
    FormatLine,
    HandbookContent,
    PositioningSummary,
    PostingLine,
)
from shared.domain import Channel
from shared.editorial import EditorialRule, EditorialRules

PLATFORM = "platform rules"
FEED = "feed display"
GRAPHIC_LINE = "graphic line"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MB = 1_000_000
UNITS = {
    Measure.CHARACTERS: "characters",
    Measure.UTF8_BYTES: "bytes (accented letters count 2)",
    Measure.X_WEIGHTED: "characters as X counts them (emoji and accents count 2, a link 23)",
    Measure.CHARACTERS_LINKS_23: "characters (a link counts 23)",
}


def _list(values: Iterable[object]) -> str:
    return ", ".join(str(value) for value in values)


def _seconds(value: float) -> str:
    if value >= 3600 and value % 3600 == 0:
        return f"{value / 3600:g} h"
    if value >= 60 and value % 60 == 0:
        return f"{value / 60:g} min"
    return f"{value:g} s"


def _worded(rule: Rule) -> FormatLine | None:
    """One row of the rules table in a client's words; None for those a person need not know
    (a post must not be empty)."""
    what: str
    match rule:
        case MaxLength(on=field, maximum=maximum, link_in_text=link_in_text):
            extra = ", the link included" if link_in_text else ""
            what = f"{field.capitalize()}: at most {maximum:,} {UNITS[rule.unit]}{extra}"
        case Required(on=field):
            what = f"A {field} is required"
        case ForbiddenCharacters(on=field, characters=characters):
            what = f"{field.capitalize()}: no {' '.join(characters)}"
        case MaxHashtags(maximum=maximum):
            what = f"At most {maximum} hashtags"
        case MaxMentions(maximum=maximum):
            what = f"At most {maximum} mentions"
        case MediaCount(minimum=low, maximum=high, kind=kind):
            media = f"{kind.value} files" if kind else "photos or videos"
            what = f"No {media}" if high == 0 else f"{low} to {high} {media}"
        case MediaAlone(types=types):
            what = f"{_list(sorted(types))} go alone in a post"
        case MediaTypes(allowed=allowed):
            what = f"File types: {_list(sorted(allowed))}"
        case MaxMediaSize(kind=kind, maximum_bytes=size):
            what = f"{kind.value.capitalize()}s up to {size / MB:g} MB"
        case AspectRatio(minimum=low, maximum=high):
            what = f"Images from {ratio_label(low)} (tall) to {ratio_label(high)} (wide)"
        case VideoDuration(minimum_seconds=low, maximum_seconds=high):
            what = f"Videos from {_seconds(low)} to {_seconds(high)}"
        case TagListLength(maximum=maximum):
            what = f"Tags: at most {maximum} characters together"
        case _:
            return None
    return FormatLine(what=what, rule=rule.rule, source=PLATFORM)


def _feed_lines(channel: Channel) -> Iterator[FormatLine]:
    display = display_of(channel)
    if display.truncate_at is not None:
        yield FormatLine(
            what=f"The feed shows the first {display.truncate_at} characters, then "
            f"“{display.see_more}”: say the point first",
            rule="truncation",
            source=FEED,
        )
    low, high = image_ratio_range(channel)
    shown = ratio_label(low) if low == high else f"{ratio_label(low)} to {ratio_label(high)}"
    yield FormatLine(
        what=f"The feed shows images at {shown}; other shapes are cropped at the centre",
        rule="image_crop",
        source=FEED,
    )
    if display.link_card == "none":
        yield FormatLine(
            what="Links in the text are not clickable cards here", rule="link", source=FEED
        )


def _graphic_lines(graphic_line: GraphicLine | None, channel: Channel) -> Iterator[FormatLine]:
    line = (
        next((c for c in graphic_line.channels if c.channel == channel), None)
        if graphic_line
        else None
    )
    if line is None:
        return
    for image in line.image_formats:
        yield FormatLine(
            what=f"{image.name}: {image.width}x{image.height} px ({image.aspect_ratio})",
            rule="image_format",
            source=GRAPHIC_LINE,
        )
    colours = _list(f"{colour.name} {colour.hex}" for colour in line.palette)
    yield FormatLine(what=f"Colours: {colours}", rule="palette", source=GRAPHIC_LINE)
    fonts = _list(f"{font.family} ({font.usage})" for font in line.fonts)
    yield FormatLine(what=f"Fonts: {fonts}", rule="fonts", source=GRAPHIC_LINE)
    for template in line.templates:
        described = f": {template.description}" if template.description else ""
        yield FormatLine(
            what=f"Template: {template.name}{described}", rule="template", source=GRAPHIC_LINE
        )


def _when(rule: EditorialRule) -> str:
    cadence = f"{rule.cadence.count} a {rule.cadence.per}"
    days = _list(DAYS[day] for day in rule.days) if rule.days else "any day"
    windows = _list(
        f"{window.start.strftime('%H:%M')}-{window.end.strftime('%H:%M')}"
        for window in rule.windows
    )
    return f"{cadence}; {days}" + (f", {windows}" if windows else "")


def _posting(rules: list[EditorialRule]) -> list[PostingLine]:
    return [
        PostingLine(
            pillar=rule.pillar,
            formats=_list(kind.value for kind in rule.formats),
            when=_when(rule),
            target=rule.target,
            hashtags=" ".join(f"#{tag.lstrip('#')}" for tag in rule.hashtags),
        )
        for rule in rules
    ]


def _distinct(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))


def _answering(positioning: Positioning | None) -> list[str]:
    if positioning is None or positioning.replies is None:
        return []
    replies = positioning.replies
    return [
        f"Answer within {replies.within_hours} hours, every question and every complaint",
        *replies.principles,
        *(f"Pass it on to the agency or a manager when: {case}" for case in replies.escalate_when),
    ]


def _why(mix: ChannelMix, channel: Channel) -> str:
    score = next((s for s in mix.scores if s.channel == channel), None)
    if score is None:
        return "Chosen in the channel mix."
    return (
        f"Chosen in the channel mix for your audiences and objectives: about "
        f"{score.weekly_hours:g} hours a week to run it well."
    )


def compose(
    client: str,
    mix: ChannelMix,
    editorial_rules: EditorialRules | None,
    graphic_line: GraphicLine | None,
    positioning: Positioning | None,
) -> HandbookContent:
    gaps = [
        f"No approved {kind} yet: {what}"
        for kind, what, body in (
            ("editorial rules", "what to post, tone and do/don't are missing", editorial_rules),
            ("graphic line", "image formats, colours and fonts are missing", graphic_line),
            ("positioning", "the voice, its words and how to answer are missing", positioning),
        )
        if body is None
    ]
    guides = []
    for channel in mix.recommended:
        rules = [
            rule
            for rule in (editorial_rules.rules if editorial_rules else [])
            if channel in rule.channels
        ]
        words_to_use = positioning.words_to_use if positioning else []
        words_to_avoid = positioning.words_to_avoid if positioning else []
        guides.append(
            ChannelGuide(
                channel=channel,
                name=display_of(channel).name,
                why=_why(mix, channel),
                what_to_post=_posting(rules),
                formats=[
                    *(line for rule in rules_for(channel) if (line := _worded(rule))),
                    *_feed_lines(channel),
                    *_graphic_lines(graphic_line, channel),
                ],
                tone=_distinct(
                    [positioning.tone_of_voice if positioning else ""]
                    + [rule.tone_of_voice for rule in rules]
                ),
                do=_distinct(
                    [item for rule in rules for item in rule.do]
                    + ([f"Use our words: {_list(words_to_use)}"] if words_to_use else [])
                ),
                dont=_distinct(
                    [item for rule in rules for item in rule.dont]
                    + ([f"Avoid: {_list(words_to_avoid)}"] if words_to_avoid else [])
                ),
                answering=_answering(positioning),
            )
        )
    summary = (
        PositioningSummary(
            statement=positioning.statement,
            key_messages=positioning.key_messages,
            words_to_use=positioning.words_to_use,
            words_to_avoid=positioning.words_to_avoid,
        )
        if positioning
        else None
    )
    return HandbookContent(client=client, positioning=summary, channels=guides, gaps=gaps)
