"""The report's tables, each bounded: the objectives, the most mentioned regions, share of voice,
authors, the per-channel figures and the top and least effective posts."""

from __future__ import annotations

from collections.abc import Sequence

from services.reporting.kpis.schemas import (
    EngagementKpis,
    ObjectiveState,
    ObjectiveStatus,
    PostFigures,
)
from services.reporting.rendering.context import ReportContext
from services.reporting.rendering.document import (
    Block,
    Cell,
    Column,
    Notice,
    Subheading,
    Table,
    Tone,
)
from services.reporting.rendering.formatting import NO_FIGURE, Formats
from services.reporting.rendering.wording import COMPARATORS, TREND_ARROWS, Words, channel_name

MAX_PLACES = 20
MAX_POSTS = 5
MAX_QUERIES = 10
MAX_AUTHORS = 10
MAX_OBJECTIVES = 30

STATUS_TONES: dict[ObjectiveState, Tone] = {
    ObjectiveState.ON_TRACK: "good",
    ObjectiveState.ACHIEVED: "good",
    ObjectiveState.AT_RISK: "warning",
    ObjectiveState.MISSED: "bad",
    ObjectiveState.NO_DATA: "muted",
}


def objectives_table(
    objectives: Sequence[ObjectiveStatus], words: Words, formats: Formats
) -> Block:
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
        note=words.objectives_note.format(shown=len(rows), total=len(objectives))
        if len(objectives) > len(rows)
        else None,
    )


def places_blocks(kpis: EngagementKpis, words: Words, formats: Formats) -> list[Block]:
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


def share_of_voice_blocks(kpis: EngagementKpis, words: Words, formats: Formats) -> list[Block]:
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


def authors_blocks(kpis: EngagementKpis, words: Words, formats: Formats) -> list[Block]:
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


def by_channel_blocks(kpis: EngagementKpis, words: Words, formats: Formats) -> list[Block]:
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


def posts_table(
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
