"""Two logistic-regression heads (is the text positive? is it negative?) over hashed features.

Features: word unigrams and bigrams and character 2- to 5-grams, hashed into ``2**bits`` slots
(``text.hashed_features``), each text's vector scaled to unit length; plus the text's lexicon
sums (``lexicon.polarity_sums``), so what the lexicon knows helps where the data are thin.
Each head minimises the class-balanced logistic loss with an L2 penalty (L-BFGS, scipy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from services.listening.sentiment.lexicon import Sums, polarity_sums
from services.listening.sentiment.text import Batch, hashed_features

F64 = NDArray[np.float64]
F32 = NDArray[np.float32]
I64 = NDArray[np.int64]


DEFAULT_L2 = 1.0
MAX_ITERATIONS = 300


@dataclass(frozen=True, slots=True)
class Design:
    """A batch's features: sparse (text, slot, value) triples and a few dense columns."""

    size: int
    rows: I64
    slots: I64
    values: F64
    dense: F64


def design(batch: Batch, languages: list[str], bits: int, sums: Sums | None = None) -> Design:
    """The batch's features; ``sums``: its lexicon sums, when the caller has them already."""
    rows, slots = hashed_features(batch, bits)
    counts = np.bincount(rows, minlength=batch.size).astype(np.float64)
    scale = 1.0 / np.sqrt(np.maximum(counts, 1.0))
    sums = sums or polarity_sums(batch, languages)
    dense = np.column_stack(
        [
            np.log1p(sums.positive),
            np.log1p(sums.negative),
            np.log1p(np.minimum(sums.positive, sums.negative)),
        ]
    )
    return Design(size=batch.size, rows=rows, slots=slots, values=scale[rows], dense=dense)


@dataclass(frozen=True, slots=True)
class Head:
    """One binary classifier: slot weights, dense weights, bias."""

    weights: F32
    dense: F32
    bias: float

    def margin(self, x: Design) -> F64:
        sparse = np.bincount(
            x.rows, self.weights[x.slots].astype(np.float64) * x.values, minlength=x.size
        )
        result: F64 = sparse + x.dense @ self.dense.astype(np.float64) + self.bias
        return result

    def probability(self, x: Design) -> F64:
        result: F64 = 1.0 / (1.0 + np.exp(-self.margin(x)))
        return result


def fit_head(x: Design, targets: NDArray[np.bool_], bits: int, l2: float = DEFAULT_L2) -> Head:
    """The head minimising class-balanced logistic loss + ``l2``/2 * |weights|^2."""
    slots_count = 1 << bits
    dense_count = x.dense.shape[1]
    y = targets.astype(np.float64)
    positives = max(float(y.sum()), 1.0)
    negatives = max(float(len(y) - y.sum()), 1.0)
    # Each class weighs as much in the loss as the other, whatever its share of the data.
    weight = np.where(targets, len(y) / (2 * positives), len(y) / (2 * negatives))

    def loss_and_gradient(theta: F64) -> tuple[float, F64]:
        w, u, b = theta[:slots_count], theta[slots_count:-1], theta[-1]
        margin = np.bincount(x.rows, w[x.slots] * x.values, minlength=x.size) + x.dense @ u + b
        # log(1 + exp(-m)) for y = 1, log(1 + exp(m)) for y = 0, computed without overflow.
        signed = np.where(targets, -margin, margin)
        loss = float(weight @ np.logaddexp(0.0, signed)) + 0.5 * l2 * float(w @ w + u @ u)
        probability = 1.0 / (1.0 + np.exp(-margin))
        residual = weight * (probability - y)
        gradient = np.empty_like(theta)
        gradient[:slots_count] = (
            np.bincount(x.slots, residual[x.rows] * x.values, minlength=slots_count) + l2 * w
        )
        gradient[slots_count:-1] = x.dense.T @ residual + l2 * u
        gradient[-1] = residual.sum()
        return loss, gradient

    # Imported when training: scipy.optimize is about 40 MiB of every process that imports the
    # sentiment package to score or name labels (the gateway too), and only training needs it.
    from scipy.optimize import minimize

    start = np.zeros(slots_count + dense_count + 1, dtype=np.float64)
    result = minimize(
        loss_and_gradient,
        start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": MAX_ITERATIONS},
    )
    theta = np.asarray(result.x, dtype=np.float64)
    return Head(
        weights=theta[:slots_count].astype(np.float32),
        dense=theta[slots_count:-1].astype(np.float32),
        bias=float(theta[-1]),
    )
