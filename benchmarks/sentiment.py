"""Sentiment on SENTIPOLC 2014's training set (``../shared/eval/sentipolc14-train.tsv``).

Figures, each the task's official polarity score (``metrics.polarity_score``) over all the
file's texts, every text labelled as the command line labels it (one of the four labels):

- ``polarity_f_default``: the shipped default model (lexicons only, nothing learnt from
  SENTIPOLC); baseline: the majority class.
- ``polarity_f_trained_cv10``: models trained as ``engage sentiment train`` trains them
  (``training.train_file`` on a fold's TSV), 10-fold cross-validation (seeded folds), each text
  labelled by the model that did not see it; baseline: the lexicon baseline (the same lexicons,
  every word counted as it is, positive when positive words outnumber negative ones, and so on).
- ``polarity_f_majority``, ``polarity_f_lexicon_baseline``: the two baselines themselves
  (the majority label of each fold's training part; the lexicon count).
- ``texts_per_second_default``, ``texts_per_second_trained``: ``SentimentModel.label`` on the
  file's texts repeated to 100,000, in batches of 4,096, in this process.

SENTIPOLC is CC BY-NC-SA: it is only read here, never shipped. Without the file (a checkout
without ``../shared/eval``, or ``BENCH_SENTIMENT_DATA`` naming a missing file) the benchmark prints
one line saying it skipped.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.common import report
from services.listening.sentiment.corpus import Example, read_examples
from services.listening.sentiment.lexicon import polarity_sums
from services.listening.sentiment.metrics import polarity_score
from services.listening.sentiment.model import SentimentModel
from services.listening.sentiment.text import encode
from services.listening.sentiment.training import train_file

BENCHMARK = "sentiment"
DATA = Path(
    os.environ.get(
        "BENCH_SENTIMENT_DATA",
        Path(__file__).resolve().parents[2] / "shared" / "eval" / "sentipolc14-train.tsv",
    )
)
FOLDS = 10
SEED = 2014
THROUGHPUT_TEXTS = 100_000
BATCH = 4096
TARGETS = {"default": 0.60, "trained": 0.70, "texts_per_second": 20_000}


def _flags(model: SentimentModel, texts: list[str]) -> tuple[list[bool], list[bool]]:
    labels = [result.label for result in model.label(texts, every_text=True)]
    return [label in {"positive", "mixed"} for label in labels], [
        label in {"negative", "mixed"} for label in labels
    ]


def _score(examples: list[Example], positive: list[bool], negative: list[bool]) -> float:
    return round(
        polarity_score(
            [example.positive for example in examples],
            [example.negative for example in examples],
            positive,
            negative,
        ),
        4,
    )


def _lexicon_baseline(texts: list[str]) -> tuple[list[bool], list[bool]]:
    batch = encode(texts)
    sums = polarity_sums(batch, ["it"] * len(texts), negation=False)
    positive = (sums.positive > 0) & (sums.positive >= sums.negative)
    negative = (sums.negative > 0) & (sums.negative >= sums.positive)
    return positive.tolist(), negative.tolist()


def _write_fold(path: Path, examples: list[Example]) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("id\tpos\tneg\ttext\n")
        for number, example in enumerate(examples):
            out.write(f"{number}\t{int(example.positive)}\t{int(example.negative)}\t")
            out.write(f"{example.text}\n")


def _cross_validation(
    examples: list[Example],
) -> tuple[list[bool], list[bool], list[bool], list[bool], SentimentModel, float]:
    order = list(range(len(examples)))
    random.Random(SEED).shuffle(order)
    folds = [order[k::FOLDS] for k in range(FOLDS)]
    positive = [False] * len(examples)
    negative = [False] * len(examples)
    majority_positive = [False] * len(examples)
    majority_negative = [False] * len(examples)
    started = time.perf_counter()
    model: SentimentModel | None = None
    with tempfile.TemporaryDirectory(prefix="sentiment-cv-") as scratch:
        for k, held_out in enumerate(folds):
            held = set(held_out)
            training = [examples[i] for i in order if i not in held]
            data = Path(scratch) / f"fold-{k}.tsv"
            _write_fold(data, training)
            model = train_file(data, Path(scratch) / f"model-{k}")
            fold_positive, fold_negative = _flags(model, [examples[i].text for i in held_out])
            common = Counter((e.positive, e.negative) for e in training).most_common(1)[0][0]
            for i, p, n in zip(held_out, fold_positive, fold_negative, strict=True):
                positive[i], negative[i] = p, n
                majority_positive[i], majority_negative[i] = common
    assert model is not None
    seconds_per_fold = (time.perf_counter() - started) / FOLDS
    return positive, negative, majority_positive, majority_negative, model, seconds_per_fold


def _throughput(model: SentimentModel, texts: list[str]) -> float:
    repeated = (texts * (THROUGHPUT_TEXTS // len(texts) + 1))[:THROUGHPUT_TEXTS]
    model.label(repeated[:BATCH], every_text=True)  # tables built once, outside the clock
    started = time.perf_counter()
    for start in range(0, len(repeated), BATCH):
        model.label(repeated[start : start + BATCH], every_text=True)
    return round(len(repeated) / (time.perf_counter() - started), 1)


async def run() -> None:
    await asyncio.to_thread(_run)


def _run() -> None:
    if not DATA.is_file():
        report(
            BENCHMARK,
            "skipped",
            0,
            "",
            skipped=True,
            reason=f"{DATA} not found: the evaluation data lives beside the project, in "
            "../shared/eval (or set BENCH_SENTIMENT_DATA)",
        )
        return
    examples = read_examples(DATA)
    texts = [example.text for example in examples]
    common = {"data": DATA.name, "texts": len(examples)}
    default = SentimentModel.load(None)
    positive, negative, majority_p, majority_n, trained, fold_seconds = _cross_validation(examples)
    majority = _score(examples, majority_p, majority_n)
    lexicon = _score(examples, *_lexicon_baseline(texts))
    report(
        BENCHMARK,
        "polarity_f_default",
        _score(examples, *_flags(default, texts)),
        "F",
        baseline="majority",
        baseline_value=majority,
        target=TARGETS["default"],
        model_version=default.version,
        **common,
    )
    report(
        BENCHMARK,
        "polarity_f_trained_cv10",
        _score(examples, positive, negative),
        "F",
        baseline="lexicon_baseline",
        baseline_value=lexicon,
        target=TARGETS["trained"],
        folds=FOLDS,
        seed=SEED,
        train_seconds_per_fold=round(fold_seconds, 1),
        **common,
    )
    report(BENCHMARK, "polarity_f_majority", majority, "F", **common)
    report(BENCHMARK, "polarity_f_lexicon_baseline", lexicon, "F", **common)
    default_rate = _throughput(default, texts)
    report(
        BENCHMARK,
        "texts_per_second_default",
        default_rate,
        "texts/s",
        target=TARGETS["texts_per_second"],
        batch=BATCH,
        texts_labelled=THROUGHPUT_TEXTS,
    )
    report(
        BENCHMARK,
        "texts_per_second_trained",
        _throughput(trained, texts),
        "texts/s",
        baseline="default_model",
        baseline_value=default_rate,
        target=TARGETS["texts_per_second"],
        batch=BATCH,
        texts_labelled=THROUGHPUT_TEXTS,
    )
