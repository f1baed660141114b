"""Training a model from labelled examples (``engage sentiment train``)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from services.listening.sentiment.corpus import Example, read_examples
from services.listening.sentiment.language import ITALIAN, LANGUAGES, detect
from services.listening.sentiment.linear import DEFAULT_L2, design, fit_head
from services.listening.sentiment.model import (
    DEFAULT_VERSION,
    FORMAT,
    LanguageHeads,
    SentimentModel,
)
from services.listening.sentiment.text import encode

MIN_EXAMPLES = 2
BITS = 18


def data_language(texts: Sequence[str]) -> str:
    """The language most of the texts are detected in (Italian when none is)."""
    detected = Counter(language for language in detect(encode(texts)).detected if language)
    return detected.most_common(1)[0][0] if detected else ITALIAN


def train(
    examples: Sequence[Example],
    *,
    language: str | None = None,
    data_sha256: str = "",
    data_name: str = "",
    bits: int = BITS,
    l2: float = DEFAULT_L2,
) -> SentimentModel:
    """A model whose heads for ``language`` (by default the data's) are fitted on ``examples``;
    texts in the other language are labelled by the default model."""
    if len(examples) < MIN_EXAMPLES:
        raise ValueError(f"{len(examples)} examples: at least {MIN_EXAMPLES} are needed")
    texts = [example.text for example in examples]
    language = language or data_language(texts)
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r}: one of {', '.join(LANGUAGES)}")
    positive = np.array([example.positive for example in examples], dtype=bool)
    negative = np.array([example.negative for example in examples], dtype=bool)
    x = design(encode(texts), [language] * len(texts), bits)
    heads = LanguageHeads(
        positive=fit_head(x, positive, bits, l2), negative=fit_head(x, negative, bits, l2)
    )
    trained_at = datetime.now(UTC)
    manifest = {
        "format": FORMAT,
        "kind": "linear",
        "version": f"linear-{language}/{trained_at:%Y%m%dT%H%M%SZ}-{data_sha256[:8] or 'data'}",
        "languages": [language],
        "fallback": DEFAULT_VERSION,
        "trained_at": trained_at.isoformat(timespec="seconds"),
        "training_data": {
            "name": data_name,
            "sha256": data_sha256,
            "examples": len(examples),
            "positive": int(positive.sum()),
            "negative": int(negative.sum()),
        },
        "features": {"bits": bits, "l2": l2, "char_ngrams": [2, 3, 4, 5], "words": [1, 2]},
        "bits": bits,
    }
    return SentimentModel(manifest, {language: heads})


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def train_file(
    data: Path, out: Path, *, language: str | None = None, l2: float = DEFAULT_L2
) -> SentimentModel:
    """Train on a labelled file (``corpus.read_examples``) and save the model in ``out``."""
    model = train(
        read_examples(data),
        language=language,
        data_sha256=file_sha256(data),
        data_name=data.name,
        l2=l2,
    )
    model.save(out)
    return model
