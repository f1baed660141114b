"""The report's charts as PNGs of a fixed size, drawn with matplotlib's object API on the Agg
canvas (no pyplot: its global state is not thread-safe, and no display is needed).

Every chart has a title, labelled axes with units and a legend where colours mean something,
all in the report's language with the report's number and date formats. A chart with nothing
to show is a picture saying so, never an empty pair of axes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Literal

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from services.listening.places.choropleth import Choropleth, render_choropleth
from services.reporting.kpis.schemas import DayVolume, EngagementKpis
from services.reporting.rendering.formatting import Formats
from services.reporting.rendering.wording import Words, channel_name

# 1600 x 800 pixels: sharp at 180 mm wide on an A4 page, light enough for a data URI.
WIDTH_INCHES, HEIGHT_INCHES, DPI = 8.0, 4.0, 200
CHART_SIZE = (round(WIDTH_INCHES * DPI), round(HEIGHT_INCHES * DPI))
MAP_WIDTH = 1600  # the choropleth is 4/5 as high as wide: 1600 x 1280
MAX_DAY_TICKS = 8
LABELLED_BARS = 5

INK = "#212121"
MUTED = "#696969"
GRID = "#e0e0e0"
SENTIMENT_COLOURS = {
    "positive": "#1a9850",
    "neutral": "#74add1",
    "negative": "#d73027",
    "mixed": "#fdae61",
    "unlabelled": "#bdbdbd",
}
SENTIMENTS = tuple(SENTIMENT_COLOURS)
POSTS_COLOUR = "#2c7fb8"
ENGAGEMENTS_COLOUR = "#7b3294"

VOLUME, SENTIMENT, CHANNELS, MAP = "volume", "sentiment", "channels", "map"


def draw_charts(
    kpis: EngagementKpis, words: Words, formats: Formats, subtitle: str
) -> dict[str, bytes]:
    """Each chart's PNG by name; ``has_data`` tells which of them show figures."""
    return {
        VOLUME: volume_chart(kpis.listening.volume, words, formats),
        SENTIMENT: sentiment_chart(kpis, words, formats),
        CHANNELS: channels_chart(kpis, words, formats),
        MAP: map_chart(kpis, words, formats, subtitle),
    }


def has_data(kpis: EngagementKpis) -> dict[str, bool]:
    listening, publishing = kpis.listening, kpis.publishing
    return {
        VOLUME: any(day.mentions for day in listening.volume),
        SENTIMENT: _sentiment_total(kpis) > 0,
        CHANNELS: any(c.published or c.engagements for c in publishing.by_channel),
        MAP: any(place.mentions for place in listening.places),
    }


def volume_chart(days: Sequence[DayVolume], words: Words, formats: Formats) -> bytes:
    figure, axes = _figure()
    if not any(day.mentions for day in days):
        return _no_data(figure, axes, words.volume_title, words.no_data)
    positions = list(range(len(days)))
    bottom = [0] * len(days)
    for sentiment in SENTIMENTS:
        heights = [getattr(day, sentiment) for day in days]
        axes.bar(
            positions,
            heights,
            bottom=bottom,
            width=0.8,
            color=SENTIMENT_COLOURS[sentiment],
            label=words.sentiments[sentiment],
        )
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    step = max(1, -(-len(days) // MAX_DAY_TICKS))
    ticks = positions[::step]
    axes.set_xticks(ticks, [formats.short_day(days[i].day) for i in ticks])
    axes.set_xlim(-0.6, len(days) - 0.4)
    _count_axis(axes, formats)
    axes.set_xlabel(words.day_axis, color=MUTED)
    axes.set_ylabel(words.volume_axis, color=MUTED)
    axes.set_title(words.volume_title, loc="left", fontsize=13, fontweight="bold", color=INK)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=9)
    _tidy(axes, grid="y")
    return _png(figure)


def sentiment_chart(kpis: EngagementKpis, words: Words, formats: Formats) -> bytes:
    figure, axes = _figure()
    total = _sentiment_total(kpis)
    if total == 0:
        return _no_data(figure, axes, words.sentiment_title, words.no_data)
    counts = [getattr(kpis.listening.sentiment, s) for s in SENTIMENTS]
    shares = [count / total for count in counts]
    labels = [words.sentiments[s] for s in SENTIMENTS]
    rows = list(range(len(SENTIMENTS)))[::-1]  # the first sentiment on top
    bars = axes.barh(rows, [100 * share for share in shares], height=0.62)
    for bar, sentiment in zip(bars, SENTIMENTS, strict=True):
        bar.set_color(SENTIMENT_COLOURS[sentiment])
        bar.set_label(words.sentiments[sentiment])
    for row, share, count in zip(rows, shares, counts, strict=True):
        axes.text(
            100 * share + 1,
            row,
            f"{formats.share(share)} ({formats.count(count)})",
            va="center",
            fontsize=10,
            color=INK,
        )
    axes.set_yticks(rows, labels)
    # Up to the largest share plus room for its label, in steps of 10 points, at most 100.
    top = min(100, 10 * math.ceil((100 * max(shares) + 5) / 10))
    axes.set_xlim(0, top + 0.18 * top)
    axes.set_xticks(range(0, top + 1, 10 if top <= 60 else 20))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: formats.share(x / 100)))
    axes.set_xlabel(words.sentiment_axis, color=MUTED)
    axes.set_title(words.sentiment_title, loc="left", fontsize=13, fontweight="bold", color=INK)
    _tidy(axes, grid="x")
    return _png(figure)


def channels_chart(kpis: EngagementKpis, words: Words, formats: Formats) -> bytes:
    channels = [c for c in kpis.publishing.by_channel if c.published or c.engagements]
    if not channels:
        figure, axes = _figure()
        return _no_data(figure, axes, words.channels_title, words.no_data)
    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
    posts_axes, engagements_axes = figure.subplots(1, 2)
    names = [channel_name(c.channel) for c in channels]
    _labelled_bars(posts_axes, names, [c.published for c in channels], POSTS_COLOUR, formats)
    posts_axes.set_ylabel(words.posts_axis, color=MUTED)
    posts_axes.set_title(words.published, fontsize=11, color=INK)
    _labelled_bars(
        engagements_axes, names, [c.engagements for c in channels], ENGAGEMENTS_COLOUR, formats
    )
    engagements_axes.set_ylabel(words.engagements_axis, color=MUTED)
    engagements_axes.set_title(words.engagements, fontsize=11, color=INK)
    for axes in (posts_axes, engagements_axes):
        axes.set_xlabel(words.channel, color=MUTED)
    figure.suptitle(words.channels_title, x=0.02, ha="left", fontsize=13, fontweight="bold")
    return _png(figure)


def map_chart(kpis: EngagementKpis, words: Words, formats: Formats, subtitle: str) -> bytes:
    counts = {p.region_code: p.mentions for p in kpis.listening.places if p.mentions > 0}
    return render_choropleth(
        Choropleth(
            level="region",
            counts=counts,
            title=words.map_title,
            subtitle=subtitle,
            language=formats.language,
            width=MAP_WIDTH,
        )
    )


def _sentiment_total(kpis: EngagementKpis) -> int:
    sentiment = kpis.listening.sentiment
    return sum(getattr(sentiment, s) for s in SENTIMENTS)


def _labelled_bars(
    axes: Axes, names: list[str], values: list[int], colour: str, formats: Formats
) -> None:
    bars = axes.bar(names, values, color=colour, width=0.6)
    # Values over the bars while they fit; past that the per-channel table gives them.
    if len(names) <= LABELLED_BARS:
        axes.bar_label(bars, labels=[formats.count(v) for v in values], padding=2, fontsize=9)
    axes.margins(y=0.15)
    _count_axis(axes, formats)
    axes.tick_params(axis="x", labelsize=9)
    if len(names) > LABELLED_BARS:
        for label in axes.get_xticklabels():
            label.set_rotation(45)
            label.set_horizontalalignment("right")
    _tidy(axes, grid="y")


def _count_axis(axes: Axes, formats: Formats) -> None:
    axis = axes.yaxis
    axis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    axis.set_major_formatter(FuncFormatter(lambda value, _: formats.count(round(value))))


def _tidy(axes: Axes, grid: Literal["x", "y"]) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.set_axisbelow(True)
    axes.grid(axis=grid, color=GRID, linewidth=0.8)
    axes.tick_params(colors=INK, labelsize=9)


def _figure() -> tuple[Figure, Axes]:
    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
    return figure, figure.add_subplot()


def _no_data(figure: Figure, axes: Axes, title: str, notice: str) -> bytes:
    """The chart's title over a framed notice, in place of axes with nothing on them."""
    axes.set_axis_off()
    axes.set_title(title, loc="left", fontsize=13, fontweight="bold", color=INK)
    axes.text(
        0.5,
        0.5,
        notice,
        ha="center",
        va="center",
        fontsize=16,
        color=MUTED,
        transform=axes.transAxes,
        bbox={"boxstyle": "round,pad=0.8", "facecolor": "white", "edgecolor": GRID},
    )
    return _png(figure)


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()
