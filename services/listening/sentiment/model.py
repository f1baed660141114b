"""``SentimentModel``: the default lexicon model, or a trained one loaded from its directory."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from services.listening.sentiment.language import ITALIAN, LANGUAGES, detect
from services.listening.sentiment.lexicon import Sums, polarity_sums
from services.listening.sentiment.linear import Head, design
from services.listening.sentiment.text import encode

Label = Literal["positive", "negative", "neutral", "mixed"]
LABELS: tuple[Label, ...] = ("positive", "negative", "neutral", "mixed")
DEFAULT_VERSION = "lexicon-it-en/2026-12"
MANIFEST = "manifest.json"
FORMAT = 1
# The default model's rule, fixed by hand (not fitted to any data): a text is polar once its
# lexicon words add up to one moderately polar word; mixed when the weaker side is at least half
# the stronger one and polar on its own.
LEXICON_THRESHOLD = 1.0
MIXED_RATIO = 0.5
# VADER's normalisation of a polarity sum into -1..1.
_COMPOUND_ALPHA = 15.0


class ModelError(Exception):
    """A model directory that cannot be loaded."""


@dataclass(frozen=True, slots=True)
class Labelled:
    """One text's sentiment. ``label`` and ``score`` are None for a language with no model
    (``language`` None: neither Italian nor English). ``score`` runs from -1 (negative) to 1."""

    label: Label | None
    score: float | None
    language: str | None
    model_version: str


def _labels(positive: NDArray[np.bool_], negative: NDArray[np.bool_]) -> list[Label]:
    return [
        ("mixed" if n else "positive") if p else ("negative" if n else "neutral")
        for p, n in zip(positive.tolist(), negative.tolist(), strict=True)
    ]


def lexicon_decisions(sums: Sums) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[Any]]:
    """The default model's positive and negative decisions, and its score."""
    strong = np.maximum(sums.positive, sums.negative)
    weak = np.minimum(sums.positive, sums.negative)
    polar = strong >= LEXICON_THRESHOLD
    mixed = polar & (weak >= LEXICON_THRESHOLD) & (weak >= MIXED_RATIO * strong)
    positive = polar & (mixed | (sums.positive > sums.negative))
    negative = polar & (mixed | (sums.negative >= sums.positive))
    difference = sums.positive - sums.negative
    score = difference / np.sqrt(difference * difference + _COMPOUND_ALPHA)
    return positive, negative, score


@dataclass(frozen=True, slots=True)
class LanguageHeads:
    positive: Head
    negative: Head


class SentimentModel:
    """Labels batches of texts; ``load(None)`` is the default model, shipped with the product."""

    def __init__(
        self, manifest: dict[str, Any], heads: dict[str, LanguageHeads] | None = None
    ) -> None:
        self.manifest = manifest
        self.heads = heads or {}
        self.version: str = manifest["version"]
        self.bits: int = manifest.get("bits", 0)
        languages = [language for language in manifest["languages"] if language in LANGUAGES]
        self.languages = frozenset(languages)
        # Where a text's language is undetermined, the model's own first language is likelier.
        self.preferred = languages[0] if languages else ITALIAN

    @classmethod
    def default(cls) -> SentimentModel:
        return cls(
            {
                "format": FORMAT,
                "kind": "lexicon",
                "version": DEFAULT_VERSION,
                "languages": list(LANGUAGES),
                "sources": {
                    "it": "the project's own lexicon (data/lexicon-it.tsv) + VADER's emoticons",
                    "en": "VADER lexicon 3.3.2 (vaderSentiment, MIT)",
                },
            }
        )

    @classmethod
    def load(cls, path: Path | str | None = None) -> SentimentModel:
        if path is None:
            return cls.default()
        directory = Path(path)
        try:
            manifest = json.loads((directory / MANIFEST).read_text("utf-8"))
        except (OSError, ValueError) as error:
            raise ModelError(f"{directory}: no readable {MANIFEST} ({error})") from error
        if manifest.get("format") != FORMAT or manifest.get("kind") != "linear":
            raise ModelError(f"{directory}: not a trained sentiment model of format {FORMAT}")
        heads: dict[str, LanguageHeads] = {}
        for language in manifest["languages"]:
            try:
                with np.load(directory / f"heads-{language}.npz") as arrays:
                    heads[language] = LanguageHeads(
                        positive=Head(
                            arrays["positive_weights"],
                            arrays["positive_dense"],
                            float(arrays["positive_bias"]),
                        ),
                        negative=Head(
                            arrays["negative_weights"],
                            arrays["negative_dense"],
                            float(arrays["negative_bias"]),
                        ),
                    )
            except (OSError, KeyError, ValueError) as error:
                raise ModelError(f"{directory}: heads for {language!r}: {error}") from error
        return cls(manifest, heads)

    def save(self, path: Path | str) -> None:
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        for language, heads in self.heads.items():
            np.savez_compressed(
                directory / f"heads-{language}.npz",
                positive_weights=heads.positive.weights,
                positive_dense=heads.positive.dense,
                positive_bias=np.float64(heads.positive.bias),
                negative_weights=heads.negative.weights,
                negative_dense=heads.negative.dense,
                negative_bias=np.float64(heads.negative.bias),
            )
        (directory / MANIFEST).write_text(
            json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n", "utf-8"
        )

    def label(
        self,
        texts: Sequence[str],
        *,
        every_text: bool = False,
        stated: Sequence[str | None] | None = None,
    ) -> list[Labelled]:
        """Each text's sentiment, in order. A text in neither Italian nor English gets no label,
        unless ``every_text``: then it is read as the likelier of the two (the command line).
        ``stated``: each text's language as its source said it; one the model reads is taken
        over what detection finds (a short comment may hold too few function words to tell)."""
        if not texts:
            return []
        batch = encode(texts)
        detection = detect(batch, self.preferred)
        if stated is not None:
            for index, language in enumerate(stated):
                if language is not None and language in self.languages:
                    detection.detected[index] = detection.likelier[index] = language
        languages = detection.likelier
        sums = polarity_sums(batch, languages)
        positive, negative, score = lexicon_decisions(sums)
        versions = [DEFAULT_VERSION] * len(texts)
        if self.heads:
            x = design(batch, languages, self.bits, sums)
            for language, heads in self.heads.items():
                mine = np.array([lang == language for lang in languages], dtype=bool)
                if not mine.any():
                    continue
                p_positive = heads.positive.probability(x)
                p_negative = heads.negative.probability(x)
                positive = np.where(mine, p_positive >= 0.5, positive)
                negative = np.where(mine, p_negative >= 0.5, negative)
                score = np.where(mine, p_positive - p_negative, score)
                for index in np.flatnonzero(mine).tolist():
                    versions[index] = self.version
        labels = _labels(positive, negative)
        scores = score.tolist()
        result: list[Labelled] = []
        for index, detected in enumerate(detection.detected):
            if detected is None and not every_text:
                result.append(Labelled(None, None, None, versions[index]))
            else:
                language = languages[index]
                result.append(
                    Labelled(labels[index], round(scores[index], 4), language, versions[index])
                )
        return result
