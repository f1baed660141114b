"""From the KPIs and the context to the typed document: which sections the report has, in what
order, with which figures, bounded so no list can grow a report without end."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from PIL import Image

from services.reporting.kpis.schemas import (
    EngagementKpis,
    ObjectiveState,
    ObjectiveStatus,
    PostFigures,
)
from services.reporting.rendering import charts
from services.reporting.rendering.context import ReportContext
from services.reporting.rendering.document import (
    Block,
    Cell,
    Chart,
    Column,
    Cover,
    KeyFigure,
    KeyFigures,
    Notice,
    Paragraph,
    ReportDocument,
    Section,
    Subheading,
    Table,
    Tone,
)
from services.reporting.rendering.formatting import NO_FIGURE, Formats
from services.reporting.rendering.summary import change_summary
from services.reporting.rendering.wording import (
    COMPARATORS,
    TREND_ARROWS,
    WORDS,
    Words,
    channel_name,
)

MAX_PLACES = 20
MAX_POSTS = 5
MAX_QUERIES = 10
MAX_AUTHORS = 10
MAX_OBJECTIVES = 30
CHART_WIDTH_MM = 170.0
MAP_WIDTH_MM = 160.0

STATUS_TONES: dict[ObjectiveState, Tone] = {
    ObjectiveState.ON_TRACK: "good",
    ObjectiveState.ACHIEVED: "good",
    ObjectiveState.AT_RISK: "warning",
    ObjectiveState.MISSED: "bad",
    ObjectiveState.NO_DATA: "muted",
}


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
    voices = [*_share_of_voice(kpis, words, formats), *_authors(kpis, words, formats)]
    map_section = Section(
        words.map,
        (chart(charts.MAP, words.map_title, MAP_WIDTH_MM), *_places(kpis, words, formats)),
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
            *_by_channel(kpis, words, formats),
        ),
    )
    posts_section = Section(
        words.posts,
        (
            Subheading(words.top_posts),
            _posts(kpis.publishing.top_posts, context, words, formats),
            Subheading(words.bottom_posts),
            _posts(kpis.publishing.bottom_posts, context, words, formats),
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
            Section(
                words.objectives, (_objectives(kpis.objectives, words, formats),), new_page=True
            ),
            listening_section,
            map_section,
            *([Section(words.voices, tuple(voices))] if voices else []),
            publishing_section,
            posts_section,
            conversations,
            contests,
        ),
        footer=f"{context.organization_name} · {period}",
        page_label=words.page,
    )


def _objectives(objectives: Sequence[ObjectiveStatus], words: Words, formats: Formats) -> Block:
    if not objectives:
        return Notice(words.no_objectives)
    rows = []
    for objective in objectives[:MAX_OBJECTIVES]:
        scope = channel_name(objective.channel) if objective.channel else words.all_channels
        comparator = COMPARATORS.get(objective.comparator, "")
        trend = (
            f"{TREND_ARROWS[objective.trend]} {words.trends[objective.trend]}"
            if objective.trend
            else NO_FIGURE
        )
        metric = _metric_names(words).get(objective.metric, objective.metric.replace("_", " "))
        rows.append(
            (
                Cell(f"{objective.objective_title} ({metric}, {scope})"),
                Cell(f"{comparator} {formats.measure(objective.target, objective.unit)}"),
                Cell(formats.measure(objective.actual, objective.unit)),
                Cell(formats.measure(objective.previous, objective.unit)),
                Cell(trend),
                Cell(words.states[objective.status], tone=STATUS_TONES[objective.status]),
            )
        )
    return Table(
        (
            Column(words.objective),
            Column(words.target, numeric=True),
            Column(words.actual, numeric=True),
            Column(words.previous, numeric=True),
            Column(words.trend),
            Column(words.status),
        ),
        tuple(rows),
    )


def _places(kpis: EngagementKpis, words: Words, formats: Formats) -> list[Block]:
    """The most mentioned regions, the first `MAX_PLACES` of them: the map shows them all."""
    places = sorted(kpis.listening.places, key=lambda p: (-p.mentions, p.region_name))
    listed = places[:MAX_PLACES]
    if not listed:
        return []
    rows = tuple(
        (
            Cell(formats.count(rank)),
            Cell(place.region_name),
            Cell(formats.count(place.mentions)),
            Cell(formats.share(_ratio(place.mentions, kpis.listening.mentions))),
        )
        for rank, place in enumerate(listed, start=1)
    )
    cut = len(places) > len(listed)
    return [
        Subheading(words.places),
        Table(
            (
                Column(words.rank, numeric=True),
                Column(words.region),
                Column(words.mentions, numeric=True),
                Column(words.share, numeric=True),
            ),
            rows,
            note=words.places_note.format(shown=len(listed), total=len(places)) if cut else None,
        ),
    ]


def _metric_names(words: Words) -> dict[str, str]:
    """The KPIs' names as the report's labels, for the objectives' metrics."""
    return {
        "mentions": words.mentions,
        "net_sentiment": words.net_sentiment,
        "own_share_of_voice": words.own_share_of_voice,
        "planned": words.planned,
        "published": words.published,
        "failed": words.failed,
        "on_time_share": words.on_time_share,
        "reach": words.reach,
        "impressions": words.impressions,
        "engagements": words.engagements,
        "engagement_rate": words.engagement_rate,
        "followers": words.followers,
        "follower_growth": words.follower_growth,
        "first_response_median_minutes": words.first_response_median,
        "first_response_p90_minutes": words.first_response_p90,
        "within_sla": words.within_sla,
        "within_sla_share": words.within_sla_share,
        "open_backlog": words.open_backlog,
        "entries": words.entries,
        "valid_entries": words.valid_entries,
        "winners": words.winners,
    }


def _share_of_voice(kpis: EngagementKpis, words: Words, formats: Formats) -> list[Block]:
    queries = sorted(kpis.listening.share_of_voice, key=lambda q: (-q.mentions, q.name))
    if not queries:
        return []
    return [
        Subheading(words.share_of_voice),
        Table(
            (
                Column(words.query),
                Column(words.competitor),
                Column(words.mentions, numeric=True),
                Column(words.share, numeric=True),
            ),
            tuple(
                (
                    Cell(query.name),
                    Cell(words.competitor if query.competitor else words.own),
                    Cell(formats.count(query.mentions)),
                    Cell(formats.share(query.share)),
                )
                for query in queries[:MAX_QUERIES]
            ),
        ),
    ]


def _authors(kpis: EngagementKpis, words: Words, formats: Formats) -> list[Block]:
    authors = kpis.listening.top_authors[:MAX_AUTHORS]
    if not authors:
        return []
    return [
        Subheading(words.top_authors),
        Table(
            (Column(words.author), Column(words.mentions, numeric=True)),
            tuple((Cell(a.author), Cell(formats.count(a.mentions))) for a in authors),
        ),
    ]


def _by_channel(kpis: EngagementKpis, words: Words, formats: Formats) -> list[Block]:
    channels = kpis.publishing.by_channel
    if not channels:
        return []
    return [
        Subheading(words.by_channel),
        Table(
            (
                Column(words.channel),
                Column(words.planned, numeric=True),
                Column(words.published, numeric=True),
                Column(words.failed, numeric=True),
                Column(words.reach, numeric=True),
                Column(words.impressions, numeric=True),
                Column(words.engagements, numeric=True),
                Column(words.engagement_rate, numeric=True),
            ),
            tuple(
                (
                    Cell(channel_name(c.channel)),
                    Cell(formats.count(c.planned)),
                    Cell(formats.count(c.published)),
                    Cell(formats.count(c.failed)),
                    Cell(formats.count(c.reach)),
                    Cell(formats.count(c.impressions)),
                    Cell(formats.count(c.engagements)),
                    Cell(formats.share(c.engagement_rate)),
                )
                for c in channels
            ),
        ),
    ]


def _posts(
    posts: Sequence[PostFigures], context: ReportContext, words: Words, formats: Formats
) -> Block:
    if not posts:
        return Notice(words.no_posts)
    rows = []
    for rank, post in enumerate(posts[:MAX_POSTS], start=1):
        url = post.url or context.post_url(post.publication_id)
        rows.append(
            (
                Cell(formats.count(rank)),
                Cell(channel_name(post.channel)),
                Cell(formats.medium_day(post.published_at.astimezone(context.zone).date())),
                Cell(formats.count(post.reach)),
                Cell(formats.count(post.engagements)),
                Cell(formats.share(post.engagement_rate)),
                Cell(words.open_link, link=url) if url else Cell(NO_FIGURE),
            )
        )
    return Table(
        (
            Column(words.rank, numeric=True),
            Column(words.channel),
            Column(words.published_at),
            Column(words.reach, numeric=True),
            Column(words.engagements, numeric=True),
            Column(words.engagement_rate, numeric=True),
            Column(words.link),
        ),
        tuple(rows),
    )


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None
