"""docs/events.md's catalogue names every event the services emit, and nothing else.

The emitted events are read from the code: every ``<domain>.<event>`` constant of the services'
``events`` modules (``services/**/events.py``) and every lifecycle fact
(``LifecycleEventName``); the catalogue is the subjects named in the first column of the table
under ``## Catalogue``."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from services.strategy.contracts import LifecycleEventName
from services.strategy.events import lifecycle_event

ROOT = Path(__file__).resolve().parent.parent
EVENT_NAME = re.compile(r"^[a-z]+\.[a-z_]+$")
CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")
SUBJECT = re.compile(r"`engage\.([a-z]+\.[a-z_]+)`")


def emitted_events() -> dict[str, str]:
    """Each event name the services' events modules declare, with the module declaring it."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "services").rglob("events.py")):
        module_name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if CONSTANT.match(name) and isinstance(value, str) and EVENT_NAME.match(value):
                found.setdefault(value, module_name)
    for fact in LifecycleEventName:
        found.setdefault(lifecycle_event(fact), "services.strategy.events")
    return found


def catalogued_events() -> set[str]:
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    catalogue = text.split("\n## Catalogue\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in catalogue.splitlines() if line.startswith("| `engage.")]
    return {name for row in rows for name in SUBJECT.findall(row.split(" | ", 1)[0])}


def test_every_emitted_event_is_in_the_catalogue() -> None:
    emitted = emitted_events()

    missing = {name: module for name, module in emitted.items() if name not in catalogued_events()}

    assert missing == {}, f"add these to docs/events.md's catalogue: {missing}"


def test_the_catalogue_names_no_event_the_code_does_not_emit() -> None:
    stale = catalogued_events() - emitted_events().keys()

    assert stale == set(), f"docs/events.md's catalogue names events nobody emits: {stale}"


def test_the_scan_finds_the_events_of_each_kind_of_module() -> None:
    emitted = emitted_events()

    # A constant of a service's events module, of a sub-package's, and a lifecycle fact.
    assert emitted["content.item_created"] == "services.content.events"
    assert emitted["content.website_watch_failing"] == "services.content.website.events"
    assert emitted["strategy.training_competence_checked"] == "services.strategy.training.events"
    assert "lifecycle.engagement_paused" in emitted
    assert len(emitted) > 90
