"""What one attempt to send a notification came to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# sent: delivered; retry: may work later (5xx, 429, a timeout, the server away); give_up: will not.
Verdict = Literal["sent", "retry", "give_up"]

ERROR_CHARS = 500


@dataclass(frozen=True)
class Sent:
    verdict: Verdict
    status_code: int | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if self.error is not None:
            object.__setattr__(self, "error", " ".join(self.error.split())[:ERROR_CHARS])
