"""Texts to tokens and hashed features, a whole batch at a time.

A batch is normalised as one string (lower case, links and handles replaced, letters repeated
three times or more cut to two) and turned into code points; tokens (runs of letters and
digits, runs of punctuation, single symbols such as emoji) and character n-grams are hashed with
numpy over the whole batch, so no Python loop runs per text or per token. Hashes are
deterministic (not Python's ``hash``), so a trained model labels the same in every process.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

U64 = NDArray[np.uint64]
I64 = NDArray[np.int64]

_URL = re.compile(r"https?://\S+|www\.\S+|pic\.twitter\.com/\S+")
_HANDLE = re.compile(r"@\w+")
_REPEATS = re.compile(r"(.)\1{2,}")
_BREAKS = re.compile(r"[\r\n\u2028\u2029]")
_SEPARATOR = "\n"

_SPACE, _WORD, _PUNCT, _SYMBOL = 0, 1, 2, 3
# Arrows, symbols, dingbats, emoji: each one is a token of its own.
_FIRST_SYMBOL = 0x2190
_BASE = 0x100000001B3
_MIX = 0x9E3779B97F4A7C15
_MAX_POWERS = 64
_MASK = (1 << 64) - 1
CHAR_NGRAMS = (2, 3, 4, 5)
_SALT_WORD = 0x51ED270B27A3D4C1
_SALT_BIGRAM = 0x2545F4914F6CDD1D
_SALT_CHAR = 0x6A09E667F3BCC909


@cache
def _classes() -> NDArray[np.uint8]:
    """The class of each code point of the basic plane (above it: a symbol)."""
    table = np.full(0x10000, _PUNCT, dtype=np.uint8)
    for point in range(0x10000):
        char = chr(point)
        if char.isalnum():
            table[point] = _WORD
        elif char.isspace():
            table[point] = _SPACE
        elif point >= _FIRST_SYMBOL:
            table[point] = _SYMBOL
    return table


@cache
def _powers() -> U64:
    return np.array([pow(_BASE, k, 1 << 64) for k in range(_MAX_POWERS)], dtype=np.uint64)


def mix(values: U64) -> U64:
    """A 64-bit finaliser (xor-shift, multiply), so nearby inputs spread over every bit."""
    values = values ^ (values >> np.uint64(31))
    values = values * np.uint64(_MIX)
    return values ^ (values >> np.uint64(29))


def normalise(text: str) -> str:
    text = _BREAKS.sub(" ", text.lower())
    text = _URL.sub(" httpurl ", text)
    text = _HANDLE.sub(" @user ", text)
    return _REPEATS.sub(r"\1\1", text)


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch of texts as code points, with its tokens."""

    size: int
    points: U64  # the normalised batch, texts separated (and preceded) by a newline
    boundaries: I64  # for each code point, how many separators up to it (text index + 1)
    token_text: I64  # the text each token belongs to
    token_hash: U64  # each token's hash (its code points, in order)


def encode(texts: Sequence[str]) -> Batch:
    # Each text between spaces (its first and last words start and end a character n-gram),
    # and between separators.
    wrapped = (f" {normalise(text)} " for text in texts)
    joined = _SEPARATOR + _SEPARATOR.join(wrapped) + _SEPARATOR
    points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    separator = points == ord(_SEPARATOR)
    boundaries = np.cumsum(separator, dtype=np.int64)
    classes = np.full(points.shape, _SYMBOL, dtype=np.uint8)
    basic = points < 0x10000
    classes[basic] = _classes()[points[basic].astype(np.int64)]
    classes[separator] = _SPACE

    previous = np.empty_like(classes)
    previous[0] = _SPACE
    previous[1:] = classes[:-1]
    in_token = classes != _SPACE
    starts = in_token & ((classes != previous) | (classes == _SYMBOL))
    positions = np.flatnonzero(in_token)
    token_of = np.cumsum(starts)[positions] - 1
    start_positions = np.flatnonzero(starts)
    offset = np.minimum(positions - start_positions[token_of], _MAX_POWERS - 1)
    weighted = points[positions] * _powers()[offset]
    segment_starts = np.flatnonzero(starts[positions])
    token_hash = (
        np.add.reduceat(weighted, segment_starts)
        if len(segment_starts)
        else np.zeros(0, dtype=np.uint64)
    )
    token_text = boundaries[start_positions] - 1
    return Batch(
        size=len(texts),
        points=points,
        boundaries=boundaries,
        token_text=token_text.astype(np.int64),
        token_hash=token_hash.astype(np.uint64),
    )


def token_hashes(words: Sequence[str]) -> list[int | None]:
    """Each word's token hash, or None for a word that is not exactly one token."""
    batch = encode(words)
    counts = np.bincount(batch.token_text, minlength=batch.size)
    first = np.searchsorted(batch.token_text, np.arange(batch.size))
    return [int(batch.token_hash[first[i]]) if counts[i] == 1 else None for i in range(batch.size)]


def hashed_features(batch: Batch, bits: int) -> tuple[I64, I64]:
    """(text, feature index) pairs: word unigrams and bigrams, character 2- to 5-grams.

    Character n-grams run over the normalised text with its spaces (a space before and after
    it), so they also see where words begin and end; none crosses from one text to the next.
    """
    shift = np.uint64(64 - bits)
    rows: list[I64] = []
    features: list[U64] = []

    rows.append(batch.token_text)
    features.append(mix(batch.token_hash ^ np.uint64(_SALT_WORD)))

    same_text = batch.token_text[1:] == batch.token_text[:-1]
    pair = batch.token_hash[:-1][same_text] * np.uint64(_MIX) + batch.token_hash[1:][same_text]
    rows.append(batch.token_text[:-1][same_text])
    features.append(mix(pair ^ np.uint64(_SALT_BIGRAM)))

    points, boundaries = batch.points, batch.boundaries
    powers = _powers()
    accumulated = points.copy()
    for n in range(2, max(CHAR_NGRAMS) + 1):
        length = len(points) - n + 1
        if length <= 0:
            break
        accumulated = accumulated[:length] + points[n - 1 :] * powers[n - 1]
        if n not in CHAR_NGRAMS:
            continue
        # A window holds no separator when the separators counted at its two ends agree and
        # its first character is not one.
        inside = (boundaries[n - 1 :] == boundaries[:length]) & (points[:length] != ord(_SEPARATOR))
        rows.append(boundaries[:length][inside] - 1)
        features.append(mix(accumulated[inside] + np.uint64((_SALT_CHAR * n) & _MASK)))

    text_of = np.concatenate(rows)
    index = (np.concatenate(features) >> shift).astype(np.int64)
    return text_of, index
