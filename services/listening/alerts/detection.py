"""Deciding whether an hour of mentions is an alert: pure functions over counts and texts.

A window is one complete hour; its baseline is an exponentially weighted moving average (EWMA)
of the hours before it, oldest first, so recent hours weigh most and a quiet night after a busy
week does not hide a spike. Every kind needs a minimum count in the window itself: a handful of
mentions is never a crisis, whatever their share or growth.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Below this baseline a hour is compared to one mention an hour: growth from nothing is not
# infinite growth.
BASELINE_FLOOR = 1.0


def ewma(counts: Sequence[float], alpha: float) -> float:
    """The EWMA of ``counts`` (oldest first): s(0) = x(0), s(t) = alpha * x(t) + (1 - alpha) *
    s(t-1); 0 when there are none."""
    if not 0 < alpha <= 1:
        raise ValueError("alpha must be in (0, 1]")
    if not counts:
        return 0.0
    smoothed = float(counts[0])
    for count in counts[1:]:
        smoothed = alpha * count + (1 - alpha) * smoothed
    return smoothed


@dataclass(frozen=True)
class Verdict:
    """What a window was compared with: ``alert`` when ``observed`` reached ``threshold``
    (and the minimum count)."""

    alert: bool
    observed: float
    baseline: float
    threshold: float


def volume_spike(
    history: Sequence[int], observed: int, *, alpha: float, factor: float, min_count: int
) -> Verdict:
    """The window's mentions against ``factor`` times the EWMA of the hours before it (at
    least ``BASELINE_FLOOR``), and never fewer than ``min_count``."""
    baseline = ewma(history, alpha)
    threshold = max(float(min_count), factor * max(baseline, BASELINE_FLOOR))
    return Verdict(
        alert=observed >= threshold,
        observed=float(observed),
        baseline=round(baseline, 4),
        threshold=round(threshold, 4),
    )


def negative_share_spike(
    negative_history: Sequence[int],
    labelled_history: Sequence[int],
    negative: int,
    labelled: int,
    *,
    alpha: float,
    share_increase: float,
    min_count: int,
) -> Verdict:
    """The window's share of negative mentions (among those with a sentiment label) against the
    baseline share plus ``share_increase``, with at least ``min_count`` negative mentions.

    The baseline share is the EWMA of negative counts over the EWMA of labelled counts: a ratio
    of averages, so quiet hours with a single negative mention do not swing it."""
    labelled_baseline = ewma(labelled_history, alpha)
    baseline = ewma(negative_history, alpha) / labelled_baseline if labelled_baseline else 0.0
    share = negative / labelled if labelled else 0.0
    threshold = min(1.0, baseline + share_increase)
    return Verdict(
        alert=negative >= min_count and share >= threshold,
        observed=round(share, 4),
        baseline=round(baseline, 4),
        threshold=round(threshold, 4),
    )


def _folded(text: str) -> str:
    """Lower case without accents: ``Perché`` reads as ``perche``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str]:
    """Any of ``keywords`` as whole words (or phrases), ignoring case and accents."""
    words = sorted({_folded(keyword.strip()) for keyword in keywords if keyword.strip()}, key=len)
    if not words:
        raise ValueError("at least one keyword is needed")
    alternatives = "|".join(re.escape(word) for word in reversed(words))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def keyword_matches(text: str, pattern: re.Pattern[str]) -> list[str]:
    """The keywords ``text`` holds (folded, in order of appearance, once each)."""
    return list(dict.fromkeys(match.group(0) for match in pattern.finditer(_folded(text))))


def keyword_alert(matching: int, *, min_count: int) -> Verdict:
    """At least ``min_count`` mentions in the window hold a keyword."""
    return Verdict(
        alert=matching >= min_count,
        observed=float(matching),
        baseline=0.0,
        threshold=float(min_count),
    )
