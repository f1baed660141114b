"""From the KPIs and the context to the typed document: which sections the report has, in what
order, with which key figures and charts (the tables, each bounded, are in `tables.py`)."""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image

from services.reporting.kpis.schemas import EngagementKpis
from services.reporting.rendering import charts, tables
from services.reporting.rendering.context import ReportContext
from services.reporting.rendering.document import (
    Block,
    Chart,
    Cover,
    KeyFigure,
    KeyFigures,
    Notice,
    Paragraph,
    ReportDocument,
    Section,
    Subheading,
)
from services.reporting.rendering.formatting import Formats
from services.reporting.rendering.relationships import relationship_sections
from services.reporting.rendering.summary import change_summary
from services.reporting.rendering.wording import WORDS, Words, channel_name

CHART_WIDTH_MM = 170.0
MAP_WIDTH_MM = 160.0


class _Figures:
    """Key figures with the previous period's value beside them when there is one."""

    def __init__(self, kpis: EngagementKpis, words: Words) -> None:
        self.kpis = kpis
        self.words = words

    def __call__(self, label: str, value: Callable[[EngagementKpis], str]) -> KeyFigure:
        previous = self.kpis.previous
        return KeyFigure(
            label=label,
            value=value(self.kpis),
            previous=f"{self.words.previous}: {value(previous)}" if previous else None,
        )


def compose(
    kpis: EngagementKpis, context: ReportContext, pictures: dict[str, bytes]
) -> ReportDocument:
    words, formats = WORDS[context.language], Formats(context.language)
    period = formats.period(context.first_day, context.last_day)
    figure = _Figures(kpis, words)
    drawn = charts.has_data(kpis)

    def chart(name: str, description: str, width_mm: float = CHART_WIDTH_MM) -> Block:
        if not drawn[name]:
            return Notice(f"{description}: {words.no_data}")
        png = pictures[name]
        with Image.open(io.BytesIO(png)) as image:
            width_px, height_px = image.size
        return Chart(name, description, png, width_px, height_px, width_mm)

    cover = Cover(
        title=words.report_title,
        organization=context.organization_name,
        period=period,
        details=(
            (words.period, period),
            (words.channel, channel_name(kpis.channel) if kpis.channel else words.all_channels),
            (words.engagement, str(context.engagement_id)),
            (words.generated, formats.moment(context.generated_at, context.zone)),
        ),
    )
    overview = Section(
        words.key_figures,
        (
            KeyFigures(
                (
                    figure(words.mentions, lambda k: formats.count(k.listening.mentions)),
                    figure(
                        words.net_sentiment, lambda k: formats.signed(k.listening.net_sentiment)
                    ),
                    figure(words.published, lambda k: formats.count(k.publishing.published)),
                    figure(words.engagements, lambda k: formats.count(k.publishing.engagements)),
                    figure(
                        words.engagement_rate, lambda k: formats.share(k.publishing.engagement_rate)
                    ),
                    figure(
                        words.first_response_median,
                        lambda k: formats.minutes(k.conversations.first_response_median_minutes),
                    ),
                    figure(
                        words.within_sla_share,
                        lambda k: formats.share(k.conversations.within_sla_share),
                    ),
                    figure(
                        words.open_backlog, lambda k: formats.count(k.conversations.open_backlog)
                    ),
                )
            ),
            Subheading(words.summary),
            Paragraph(change_summary(kpis, context.language)),
        ),
    )
    listening_section = Section(
        words.listening,
        (
            KeyFigures(
                (
                    figure(words.mentions, lambda k: formats.count(k.listening.mentions)),
                    figure(
                        words.net_sentiment, lambda k: formats.signed(k.listening.net_sentiment)
                    ),
                    figure(
                        words.own_share_of_voice,
                        lambda k: formats.share(k.listening.own_share_of_voice),
                    ),
                )
            ),
            chart(charts.VOLUME, words.volume_title),
            chart(charts.SENTIMENT, words.sentiment_title),
        ),
    )
    # After the map, so the map can follow the sentiment chart on its page.
    voices = [
        *tables.share_of_voice_blocks(kpis, words, formats),
        *tables.authors_blocks(kpis, words, formats),
    ]
    map_section = Section(
        words.map,
        (
            chart(charts.MAP, words.map_title, MAP_WIDTH_MM),
            *tables.places_blocks(kpis, words, formats),
        ),
    )
    publishing_section = Section(
        words.publishing,
        (
            KeyFigures(
                (
                    figure(words.planned, lambda k: formats.count(k.publishing.planned)),
                    figure(words.published, lambda k: formats.count(k.publishing.published)),
                    figure(words.failed, lambda k: formats.count(k.publishing.failed)),
                    figure(
                        words.on_time_share, lambda k: formats.share(k.publishing.on_time_share)
                    ),
                    figure(words.reach, lambda k: formats.count(k.publishing.reach)),
                    figure(words.impressions, lambda k: formats.count(k.publishing.impressions)),
                    figure(words.engagements, lambda k: formats.count(k.publishing.engagements)),
                    figure(
                        words.engagement_rate, lambda k: formats.share(k.publishing.engagement_rate)
                    ),
                    figure(words.followers, lambda k: formats.count(k.publishing.followers)),
                    figure(
                        words.follower_growth,
                        lambda k: formats.signed(k.publishing.follower_growth),
                    ),
                )
            ),
            chart(charts.CHANNELS, words.channels_title),
            *tables.by_channel_blocks(kpis, words, formats),
        ),
    )
    posts_section = Section(
        words.posts,
        (
            Subheading(words.top_posts),
            tables.posts_table(kpis.publishing.top_posts, context, words, formats),
            Subheading(words.bottom_posts),
            tables.posts_table(kpis.publishing.bottom_posts, context, words, formats),
        ),
    )
    conversations = Section(
        words.conversations,
        (
            KeyFigures(
                (
                    figure(words.opened, lambda k: formats.count(k.conversations.opened)),
                    figure(words.answered, lambda k: formats.count(k.conversations.answered)),
                    figure(
                        words.first_response_median,
                        lambda k: formats.minutes(k.conversations.first_response_median_minutes),
                    ),
                    figure(
                        words.first_response_p90,
                        lambda k: formats.minutes(k.conversations.first_response_p90_minutes),
                    ),
                    figure(words.within_sla, lambda k: formats.count(k.conversations.within_sla)),
                    figure(
                        words.within_sla_share,
                        lambda k: formats.share(k.conversations.within_sla_share),
                    ),
                    figure(
                        words.open_backlog, lambda k: formats.count(k.conversations.open_backlog)
                    ),
                )
            ),
        ),
    )
    contests = Section(
        words.contests,
        (
            KeyFigures(
                (
                    figure(words.contest_count, lambda k: formats.count(k.contests.contests)),
                    figure(words.entries, lambda k: formats.count(k.contests.entries)),
                    figure(words.valid_entries, lambda k: formats.count(k.contests.valid_entries)),
                    figure(words.winners, lambda k: formats.count(k.contests.winners)),
                )
            ),
        ),
    )
    return ReportDocument(
        language=context.language,
        cover=cover,
        sections=(
            overview,
            Section(words.objectives, (tables.objectives_table(kpis.objectives, words, formats),)),
            listening_section,
            map_section,
            *([Section(words.voices, tuple(voices))] if voices else []),
            publishing_section,
            posts_section,
            conversations,
            contests,
            *relationship_sections(context.relationships, context.language, formats),
        ),
        footer=f"{context.organization_name} · {period}",
        page_label=words.page,
    )
