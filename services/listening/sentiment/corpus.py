"""Reading labelled data (to train and evaluate) and ``id<TAB>text`` lines (to label)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

LABEL_FLAGS = {"positive": (1, 0), "negative": (0, 1), "neutral": (0, 0), "mixed": (1, 1)}


class InputError(ValueError):
    """A line that cannot be read; ``line`` counts from 1."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Example:
    """A labelled text: does it say something positive, something negative (both: mixed)."""

    text: str
    positive: bool
    negative: bool


def _flag(value: str, column: str, line: int) -> bool:
    if value not in {"0", "1"}:
        raise InputError(line, f"column {column!r} must be 0 or 1, not {value!r}")
    return value == "1"


def read_examples(path: Path) -> list[Example]:
    """A UTF-8, tab-separated file with a header naming ``text`` and either ``pos`` and ``neg``
    (0/1, SENTIPOLC's layout: id, subj, pos, neg, iro, politics, text) or ``label`` (positive,
    negative, neutral, mixed). Fields are not quoted; ``text`` may hold further tabs only when it
    is the last column."""
    with path.open("rb") as stream:
        lines = _decoded(stream)
        try:
            _, header = next(lines)
        except StopIteration:
            raise InputError(1, "empty file: a header line is needed") from None
        columns = header.split("\t")
        if "text" not in columns or not ({"pos", "neg"} <= set(columns) or "label" in columns):
            raise InputError(1, "the header must name text and either pos and neg, or label")
        text_at = columns.index("text")
        last = text_at == len(columns) - 1
        examples: list[Example] = []
        for number, line in lines:
            fields = line.split("\t")
            if len(fields) < len(columns) or (len(fields) > len(columns) and not last):
                raise InputError(number, f"{len(fields)} fields, {len(columns)} expected")
            if last:
                fields[text_at:] = ["\t".join(fields[text_at:])]
            row = dict(zip(columns, fields, strict=True))
            if "pos" in row and "neg" in row:
                positive = _flag(row["pos"], "pos", number)
                negative = _flag(row["neg"], "neg", number)
            elif row["label"] in LABEL_FLAGS:
                positive, negative = (bool(flag) for flag in LABEL_FLAGS[row["label"]])
            else:
                raise InputError(number, f"label {row['label']!r} is none of {list(LABEL_FLAGS)}")
            examples.append(Example(row["text"], positive, negative))
    return examples


def _decoded(stream: Iterable[bytes]) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InputError(number, f"not UTF-8 ({error.reason} at byte {error.start})") from None
        yield number, line.rstrip("\r\n")


def read_items(stream: BinaryIO) -> Iterator[tuple[str, str]]:
    """``(id, text)`` from UTF-8 ``id<TAB>text`` lines, one at a time (the text may hold tabs).

    Raises ``InputError`` at the first line with no tab or an empty id."""
    for number, line in _decoded(stream):
        identifier, tab, text = line.partition("\t")
        if not tab:
            raise InputError(number, "no tab: each line is id<TAB>text")
        if not identifier:
            raise InputError(number, "empty id before the tab")
        yield identifier, text
