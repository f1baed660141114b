"""What a check answers: its figures and whether the invariant held."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

EXAMPLES = 5


@dataclass
class Check:
    name: str
    ok: bool
    figures: dict[str, Any] = field(default_factory=dict)


def duplicated_keys(counts: Counter[str]) -> list[str]:
    return [key for key, seen in counts.items() if seen > 1]
