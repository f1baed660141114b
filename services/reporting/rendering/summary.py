"""The written "what changed" paragraph, generated from the figures alone: for a fixed list of
figures, whether each rose, fell or held against the previous period, with both values as the
report prints them. Nothing is said that the figures do not show.

Counts get a relative change ("Mentions rose 23% (1,204 vs 979)"); levels such as net sentiment,
shares and minutes get both values ("net sentiment fell from +31 to +18"), because a percentage
of a percentage misleads. A figure that rounds to the same printed value "held"; a figure that
is zero or missing in both periods is left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from services.reporting.kpis.schemas import EngagementKpis
from services.reporting.rendering.context import Language
from services.reporting.rendering.formatting import Formats

Kind = Literal["count", "signed", "share", "minutes"]
# Italian past participles agree with the subject: masculine/feminine, singular/plural.
Agreement = Literal["ms", "fs", "mp", "fp"]

NO_PREVIOUS: dict[Language, str] = {
    "it": "Non c'è un periodo precedente con cui confrontare queste cifre.",
    "en": "There is no previous period to compare these figures with.",
}
NOTHING_COMPARABLE: dict[Language, str] = {
    "it": "Nessuna cifra del periodo si può confrontare con il periodo precedente.",
    "en": "No figure of the period can be compared with the previous period.",
}


@dataclass(frozen=True)
class Phrases:
    rose_by: str
    fell_by: str
    rose_from: str
    fell_from: str
    held: str


ENGLISH = Phrases(
    rose_by="{subject} rose {change} ({now} vs {before})",
    fell_by="{subject} fell {change} ({now} vs {before})",
    rose_from="{subject} rose from {before} to {now}",
    fell_from="{subject} fell from {before} to {now}",
    held="{subject} held at {now}",
)


def _italian(aux: str, ending: str) -> Phrases:
    """The Italian phrases for a subject whose participles end in ``ending`` (o, a, i, e).
    ``{from_before}`` and ``{to_now}`` carry their preposition, articled before a percentage
    ("dal 52% al 55%") and bare before other figures ("da +31 a +18")."""
    steady = "stabile" if ending in ("o", "a") else "stabili"
    return Phrases(
        rose_by=f"{{subject}} {aux} aumentat{ending} {{of_change}} ({{now}} contro {{before}})",
        fell_by=f"{{subject}} {aux} diminuit{ending} {{of_change}} ({{now}} contro {{before}})",
        rose_from=f"{{subject}} {aux} salit{ending} {{from_before}} {{to_now}}",
        fell_from=f"{{subject}} {aux} sces{ending} {{from_before}} {{to_now}}",
        held=f"{{subject}} {aux} rimast{ending} {steady} {{to_now}}",
    )


ITALIAN: dict[Agreement, Phrases] = {
    "ms": _italian("è", "o"),
    "fs": _italian("è", "a"),
    "mp": _italian("sono", "i"),
    "fp": _italian("sono", "e"),
}


@dataclass(frozen=True)
class Figure:
    english: str
    italian: str
    agreement: Agreement
    kind: Kind
    value: Callable[[EngagementKpis], float | None]


# One sentence per group, in the order the report's sections come.
GROUPS: tuple[tuple[Figure, ...], ...] = (
    (
        Figure("mentions", "le menzioni", "fp", "count", lambda k: k.listening.mentions),
        Figure(
            "net sentiment",
            "il sentiment netto",
            "ms",
            "signed",
            lambda k: k.listening.net_sentiment,
        ),
        Figure(
            "the own share of voice",
            "la quota di voce propria",
            "fs",
            "share",
            lambda k: k.listening.own_share_of_voice,
        ),
    ),
    (
        Figure(
            "published posts", "i post pubblicati", "mp", "count", lambda k: k.publishing.published
        ),
        Figure("reach", "la copertura", "fs", "count", lambda k: k.publishing.reach),
        Figure("engagements", "le interazioni", "fp", "count", lambda k: k.publishing.engagements),
        Figure(
            "the engagement rate",
            "il tasso di interazione",
            "ms",
            "share",
            lambda k: k.publishing.engagement_rate,
        ),
    ),
    (
        Figure(
            "the median first response",
            "la mediana della prima risposta",
            "fs",
            "minutes",
            lambda k: k.conversations.first_response_median_minutes,
        ),
        Figure(
            "the share answered within SLA",
            "la quota di risposte entro lo SLA",
            "fs",
            "share",
            lambda k: k.conversations.within_sla_share,
        ),
        Figure(
            "the open backlog",
            "l'arretrato aperto",
            "ms",
            "count",
            lambda k: k.conversations.open_backlog,
        ),
    ),
    (
        Figure(
            "contest entries",
            "le partecipazioni ai concorsi",
            "fp",
            "count",
            lambda k: k.contests.entries,
        ),
    ),
)


def change_summary(kpis: EngagementKpis, language: Language) -> str:
    """The paragraph comparing ``kpis`` with ``kpis.previous``, in ``language``."""
    if kpis.previous is None:
        return NO_PREVIOUS[language]
    formats = Formats(language)
    sentences = []
    for group in GROUPS:
        clauses = [
            clause
            for figure in group
            if (clause := _clause(figure, kpis, kpis.previous, formats)) is not None
        ]
        if clauses:
            sentence = "; ".join(clauses)
            sentences.append(f"{sentence[0].upper()}{sentence[1:]}.")
    return " ".join(sentences) if sentences else NOTHING_COMPARABLE[language]


def _clause(
    figure: Figure, now: EngagementKpis, before: EngagementKpis, formats: Formats
) -> str | None:
    current, previous = figure.value(now), figure.value(before)
    if current is None or previous is None or (current == 0 and previous == 0):
        return None
    printed_now, printed_before = (
        _printed(figure.kind, current, formats),
        _printed(figure.kind, previous, formats),
    )
    language = formats.language
    phrases = ENGLISH if language == "en" else ITALIAN[figure.agreement]
    subject = figure.english if language == "en" else figure.italian
    if printed_now == printed_before:
        template = phrases.held
    elif figure.kind == "count" and previous != 0:
        template = phrases.rose_by if current > previous else phrases.fell_by
    else:
        template = phrases.rose_from if current > previous else phrases.fell_from
    change = formats.change((current - previous) / previous) if previous else ""
    articled = figure.kind == "share"
    return template.format(
        subject=subject,
        now=printed_now,
        before=printed_before,
        change=change,
        of_change=_italian_articled("di", change),
        from_before=_italian_articled("da", printed_before) if articled else f"da {printed_before}",
        to_now=_italian_articled("a", printed_now) if articled else f"a {printed_now}",
    )


def _printed(kind: Kind, value: float, formats: Formats) -> str:
    if kind == "count":
        return formats.count(round(value))
    if kind == "signed":
        return formats.signed(value)
    if kind == "share":
        return formats.share(value)
    return formats.minutes(value)


ARTICLED = {"di": ("del ", "dell'"), "da": ("dal ", "dall'"), "a": ("al ", "all'")}


def _italian_articled(preposition: str, figure: str) -> str:
    """ "del 23%", but "dell'8%", "dell'11%", "dall'1,5%": the article elides before a number
    spoken with a leading vowel (uno, otto, undici, ottanta, ottocento, undicimila)."""
    match = re.match(r"[\d.]+", figure)
    whole = int(match.group().replace(".", "")) if match else 0
    spoken_with_vowel = str(whole).startswith("8") or whole in (1, 11) or 11_000 <= whole < 12_000
    plain, elided = ARTICLED[preposition]
    return f"{elided}{figure}" if spoken_with_vowel else f"{plain}{figure}"
