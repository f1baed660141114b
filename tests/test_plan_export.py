"""Plan exports: iCalendar (RFC 5545) folded at 75 octets and escaped, read back; and CSV.

``content_lines`` and ``ics_events`` are a tiny iCalendar reader, also used by the API tests.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from services.content.plan.export import escape_text, fold, to_csv, to_ics
from services.content.plan.schemas import PlanOut, PlanStatus, SlotOut
from shared.editorial import EditorialRules

MAX_LINE_OCTETS = 75
PILLAR = "Storie di città, sapori; persone \\ tradizioni — un racconto lungo più di 75 ottetti 🍷"


def content_lines(document: str) -> list[str]:
    """The logical lines of an iCalendar document, after checking every physical line."""
    assert document.endswith("\r\n")
    physical = document.split("\r\n")[:-1]
    assert all("\n" not in line and "\r" not in line for line in physical)
    assert all(len(line.encode()) <= MAX_LINE_OCTETS for line in physical)
    logical: list[str] = []
    for line in physical:
        if line.startswith((" ", "\t")):
            logical[-1] += line[1:]
        else:
            logical.append(line)
    return logical


def unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], value)


def ics_events(document: str) -> list[dict[str, str]]:
    """Each VEVENT's properties (name → unescaped value), in document order."""
    found: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in content_lines(document):
        name, _, value = line.partition(":")
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            assert current is not None
            found.append(current)
            current = None
        elif current is not None:
            current[name] = unescape(value)
    return found


def plan_and_slots() -> tuple[PlanOut, list[SlotOut]]:
    rules = EditorialRules.model_validate(
        {
            "rules": [
                {
                    "id": "stories",
                    "pillar": PILLAR,
                    "formats": ["image", "video"],
                    "channels": ["instagram"],
                    "days": [0],
                    "windows": [{"start": "09:00", "end": "10:00"}],
                    "cadence": {"per": "week", "count": 1},
                    "target": "=famiglie, in vacanza",
                }
            ]
        }
    )
    generated = datetime(2027, 3, 1, 8, tzinfo=UTC)
    plan = PlanOut(
        id=uuid.uuid4(),
        engagement_id=uuid.uuid4(),
        organization_id=uuid.uuid4(),
        status=PlanStatus.DRAFT,
        timezone="Europe/Rome",
        period_start=date(2027, 3, 1),
        period_end=date(2027, 3, 31),
        generation=1,
        rules=rules,
        generated_by="editor",
        generated_at=generated,
        approved_by=None,
        approved_at=None,
        slot_count=2,
        filled_count=1,
        history=[],
    )
    common = {
        "rule_id": "stories",
        "channel": "instagram",
        "pillar": PILLAR,
        "target": "=famiglie, in vacanza",
        "formats": ["image", "video"],
        "iso_week": "2027-W13",
        "month": "2027-03",
    }
    open_slot = SlotOut.model_validate(
        {
            **common,
            "id": uuid.uuid4(),
            "local_start": datetime(2027, 3, 22, 9),
            "starts_at": datetime(2027, 3, 22, 8, tzinfo=UTC),
            "day": date(2027, 3, 22),
            "iso_week": "2027-W12",
            "variant_id": None,
            "filled_by": None,
            "filled_at": None,
        }
    )
    filled_slot = SlotOut.model_validate(
        {
            **common,
            "id": uuid.uuid4(),
            "local_start": datetime(2027, 3, 29, 9),
            "starts_at": datetime(2027, 3, 29, 7, tzinfo=UTC),
            "day": date(2027, 3, 29),
            "variant_id": uuid.uuid4(),
            "filled_by": "editor",
            "filled_at": datetime(2027, 3, 2, 10, 30, tzinfo=UTC),
        }
    )
    return plan, [open_slot, filled_slot]


def test_ics_reads_back_with_every_slot_as_an_event() -> None:
    plan, slots = plan_and_slots()
    document = to_ics(plan, slots)
    lines = content_lines(document)
    assert lines[:2] == ["BEGIN:VCALENDAR", "VERSION:2.0"]
    assert lines[-1] == "END:VCALENDAR"
    assert any(line.startswith("PRODID:") for line in lines)
    assert any(len(line.encode()) > MAX_LINE_OCTETS for line in lines), "nothing was folded"
    open_event, filled_event = ics_events(document)
    assert open_event["UID"] == f"{slots[0].id}@atlantide-engage"
    assert open_event["DTSTART"] == "20270322T080000Z"
    assert open_event["DTSTAMP"] == "20270301T080000Z"
    assert open_event["SUMMARY"] == f"instagram: {PILLAR}"
    assert open_event["STATUS"] == "TENTATIVE"
    assert open_event["DESCRIPTION"].split("\n") == [
        "For: =famiglie, in vacanza",
        "Formats: image, video",
        "Rule: stories",
        "Content: no content yet",
    ]
    assert filled_event["DTSTART"] == "20270329T070000Z"
    assert filled_event["DTSTAMP"] == "20270302T103000Z"
    assert filled_event["STATUS"] == "CONFIRMED"
    assert f"Content: variant {slots[1].variant_id}" in filled_event["DESCRIPTION"]


def test_ics_escapes_text_specials() -> None:
    assert escape_text("a,b;c\\d\ne\r\nf") == "a\\,b\\;c\\\\d\\ne\\nf"


@given(st.text(min_size=0, max_size=400))
def test_folding_keeps_every_line_within_75_octets_and_unfolds_to_the_original(
    text: str,
) -> None:
    line = "DESCRIPTION:" + escape_text(text)
    folded = fold(line)
    physical = folded.split("\r\n")
    assert all(len(part.encode()) <= MAX_LINE_OCTETS for part in physical)
    assert all(part.startswith(" ") for part in physical[1:])
    assert "".join([physical[0], *(part[1:] for part in physical[1:])]) == line
    assert unescape(line.removeprefix("DESCRIPTION:")) == text.replace("\r\n", "\n").replace(
        "\r", "\n"
    )


def test_csv_has_one_row_per_slot_and_defuses_formulas() -> None:
    plan, slots = plan_and_slots()
    rows = list(csv.DictReader(io.StringIO(to_csv(plan, slots))))
    assert [row["slot_id"] for row in rows] == [str(slot.id) for slot in slots]
    first, second = rows
    assert first["local_time"] == "09:00"
    assert first["starts_at_utc"] == "2027-03-22T08:00:00Z"
    assert first["timezone"] == "Europe/Rome"
    assert first["formats"] == "image|video"
    assert first["pillar"] == PILLAR
    assert first["target"] == "'=famiglie, in vacanza"
    assert first["variant_id"] == ""
    assert second["variant_id"] == str(slots[1].variant_id)
    assert second["iso_week"] == "2027-W13"
