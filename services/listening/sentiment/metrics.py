"""SENTIPOLC 2014's polarity score.

For each of the two polarities (positive, negative) the F1 of its class 1 and the F1 of its
class 0 are averaged; the score is the mean of the two averages. A class that is neither
predicted nor present has F1 0, as in the task's scorer.
"""

from __future__ import annotations

from collections.abc import Sequence


def f1(gold: Sequence[bool], predicted: Sequence[bool], of: bool) -> float:
    """F1 of class ``of``: 2 * precision * recall / (precision + recall)."""
    hits = sum(1 for g, p in zip(gold, predicted, strict=True) if g == of and p == of)
    predicted_count = sum(1 for p in predicted if p == of)
    gold_count = sum(1 for g in gold if g == of)
    if hits == 0:
        return 0.0
    precision = hits / predicted_count
    recall = hits / gold_count
    return 2 * precision * recall / (precision + recall)


def polarity_f(gold: Sequence[bool], predicted: Sequence[bool]) -> float:
    """One polarity's F: its classes 1 and 0 averaged."""
    return (f1(gold, predicted, True) + f1(gold, predicted, False)) / 2


def polarity_score(
    gold_positive: Sequence[bool],
    gold_negative: Sequence[bool],
    positive: Sequence[bool],
    negative: Sequence[bool],
) -> float:
    """The task's score: the mean of the positive and the negative polarity's F."""
    return (polarity_f(gold_positive, positive) + polarity_f(gold_negative, negative)) / 2
