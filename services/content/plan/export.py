"""The editorial plan as files: iCalendar (RFC 5545) for calendar apps and CSV for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from services.content.plan.schemas import PlanOut, SlotOut

CRLF = "\r\n"
MAX_LINE_OCTETS = 75
PRODUCT_ID = "-//Atlantide Engage//Editorial plan//EN"
UID_DOMAIN = "atlantide-engage"
CSV_COLUMNS = (
    "slot_id",
    "day",
    "local_time",
    "timezone",
    "starts_at_utc",
    "iso_week",
    "month",
    "rule_id",
    "channel",
    "pillar",
    "target",
    "formats",
    "variant_id",
    "filled_by",
    "filled_at",
)
# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_text(value: str) -> str:
    """RFC 5545 TEXT escaping: backslash, semicolon, comma and line breaks."""
    escaped = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return escaped.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """Fold a content line into lines of at most 75 octets (the continuation's leading space
    included), never splitting a UTF-8 character."""
    lines: list[str] = []
    current, octets = "", 0
    for char in line:
        size = len(char.encode())
        if octets + size > MAX_LINE_OCTETS:
            lines.append(current)
            current, octets = " ", 1
        current += char
        octets += size
    lines.append(current)
    return CRLF.join(lines)


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _event_lines(plan: PlanOut, slot: SlotOut) -> Iterator[str]:
    content = f"variant {slot.variant_id}" if slot.variant_id else "no content yet"
    description = (
        f"For: {slot.target}\nFormats: {', '.join(slot.formats)}\n"
        f"Rule: {slot.rule_id}\nContent: {content}"
    )
    changed = max(plan.generated_at, slot.filled_at or plan.generated_at)
    yield "BEGIN:VEVENT"
    yield f"UID:{slot.id}@{UID_DOMAIN}"
    yield f"DTSTAMP:{utc_stamp(changed)}"
    yield f"DTSTART:{utc_stamp(slot.starts_at)}"
    yield f"SUMMARY:{escape_text(f'{slot.channel}: {slot.pillar}')}"
    yield f"DESCRIPTION:{escape_text(description)}"
    yield f"CATEGORIES:{escape_text(slot.channel)}"
    yield f"STATUS:{'CONFIRMED' if slot.variant_id else 'TENTATIVE'}"
    yield "END:VEVENT"


def to_ics(plan: PlanOut, slots: Sequence[SlotOut]) -> str:
    """One VEVENT per slot, starting at its UTC instant; filled slots are CONFIRMED."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODUCT_ID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(f'Editorial plan {plan.engagement_id}')}",
        f"X-WR-TIMEZONE:{plan.timezone}",
    ]
    for slot in slots:
        lines.extend(_event_lines(plan, slot))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def to_csv(plan: PlanOut, slots: Sequence[SlotOut]) -> str:
    """One row per slot (RFC 4180, CRLF line ends); ``formats`` joined with ``|``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for slot in slots:
        row = (
            slot.id,
            slot.day.isoformat(),
            slot.local_start.strftime("%H:%M"),
            plan.timezone,
            slot.starts_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            slot.iso_week,
            slot.month,
            slot.rule_id,
            slot.channel,
            slot.pillar,
            slot.target,
            "|".join(slot.formats),
            slot.variant_id,
            slot.filled_by,
            slot.filled_at.astimezone(UTC).isoformat() if slot.filled_at else None,
        )
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue()
