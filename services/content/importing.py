"""Bulk import of posts from CSV or JSON: every row is checked, then all are written or none.

CSV: a header row, then one post per row. Columns: ``title`` and ``kind`` (required), ``body``,
``link``, ``engagement_id``, ``client_approval_required``, ``media_ids`` and ``channels`` (values
separated by ``|`` or spaces), and per channel ``text:<channel>``, ``title:<channel>``,
``link:<channel>``, ``media_ids:<channel>``. Each channel in ``channels`` gets a variant; an empty
cell takes the item's value. ``id`` and ``status`` (written by the export) are ignored, and so is
the ``'`` the export puts before a cell that starts like a spreadsheet formula.

JSON: an array of objects shaped like ``POST /content-items`` bodies without ``organization_id``.

Errors name the line where the row starts (1-based; the CSV header is line 1).
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.content import events, repository
from services.content.models import ContentItem, engagements
from services.content.schemas import ImportRowError, ItemFields
from services.content.service import build_item, emit, referenced_media
from services.content.uploads import ImportFormat
from shared.auth import Principal
from shared.domain import Channel
from shared.errors import ProblemError

MAX_ROWS = 5000
ITEM_COLUMNS = (
    "title",
    "kind",
    "body",
    "link",
    "engagement_id",
    "client_approval_required",
    "media_ids",
    "channels",
)
VARIANT_FIELDS = ("text", "title", "link", "media_ids")
EXPORT_ONLY_COLUMNS = ("id", "status")
LIST_SEPARATORS = re.compile(r"[|\s]+")
# A cell starting with one of these is a formula to a spreadsheet: the export prefixes it with
# ``'`` and the import takes the prefix off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class SourceRow:
    line: int
    data: dict[str, Any]


class ImportFailedError(ProblemError):
    def __init__(self, errors: list[ImportRowError]) -> None:
        ordered = sorted(errors, key=lambda error: error.line)
        super().__init__(
            422,
            "import-failed",
            f"{len(ordered)} problem(s) in the file; nothing was imported",
            title="Import failed",
            rows=[error.model_dump() for error in ordered],
        )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportFailedError(
            [ImportRowError(line=line, field=None, reason="the file is not UTF-8 text")]
        ) from error


def _split(value: str) -> list[str]:
    return [part for part in LIST_SEPARATORS.split(value.strip()) if part]


def _header_errors(columns: list[str]) -> list[ImportRowError]:
    problems = []
    for column in columns:
        field, _, channel = column.partition(":")
        known = column in ITEM_COLUMNS or column in EXPORT_ONLY_COLUMNS
        per_channel = bool(channel) and field in VARIANT_FIELDS and channel in set(Channel)
        if not (known or per_channel):
            problems.append(f"unknown column {column!r}")
    problems += [
        f"column {c!r} appears twice" for c in sorted(set(columns)) if columns.count(c) > 1
    ]
    problems += [f"the column {c!r} is required" for c in ("title", "kind") if c not in columns]
    return [ImportRowError(line=1, field=None, reason=problem) for problem in problems]


def _unguarded(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def _csv_row(cells: dict[str, str]) -> dict[str, Any]:
    """A CSV record as the body of a content item; empty cells are left out."""
    filled = {name: _unguarded(value) for name, value in cells.items() if value.strip()}
    row: dict[str, Any] = {
        name: filled[name] for name in ITEM_COLUMNS if name in filled and name != "channels"
    }
    if "media_ids" in row:
        row["media_ids"] = _split(row["media_ids"])
    channels = _split(filled.get("channels", ""))
    row["variants"] = [_csv_variant(channel, filled) for channel in channels]
    unlisted = {name for name in filled if ":" in name and name.partition(":")[2] not in channels}
    if unlisted:
        raise ValueError(f"{', '.join(sorted(unlisted))} set for channels not in 'channels'")
    return row


def _csv_variant(channel: str, filled: dict[str, str]) -> dict[str, Any]:
    variant: dict[str, Any] = {"channel": channel}
    for field in VARIANT_FIELDS:
        value = filled.get(f"{field}:{channel}")
        if value is not None:
            variant[field] = _split(value) if field == "media_ids" else value
    return variant


def parse_csv(data: bytes) -> tuple[list[SourceRow], list[ImportRowError]]:
    reader = csv.reader(io.StringIO(_decode(data), newline=""))
    rows: list[SourceRow] = []
    errors: list[ImportRowError] = []
    try:
        columns = [name.strip() for name in next(reader, [])]
        errors = _header_errors(columns)
        if errors:
            return [], errors
        start = reader.line_num + 1
        for record in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(columns):
                reason = f"expected {len(columns)} fields, found {len(record)}"
                errors.append(ImportRowError(line=line, field=None, reason=reason))
                continue
            try:
                rows.append(SourceRow(line, _csv_row(dict(zip(columns, record, strict=True)))))
            except ValueError as error:
                errors.append(ImportRowError(line=line, field=None, reason=str(error)))
    except csv.Error as error:
        errors.append(ImportRowError(line=reader.line_num, field=None, reason=str(error)))
    return rows, errors


class _Text:
    """Line numbers of offsets in a text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._newlines = [index for index, char in enumerate(text) if char == "\n"]

    def line(self, offset: int) -> int:
        return bisect.bisect_left(self._newlines, offset) + 1

    def skip_space(self, offset: int) -> int:
        while offset < len(self.text) and self.text[offset] in " \t\r\n":
            offset += 1
        return offset


def parse_json(data: bytes) -> tuple[list[SourceRow], list[ImportRowError]]:
    """An array of objects, decoded element by element so each row knows its line."""
    source = _Text(_decode(data))
    text, decoder = source.text, json.JSONDecoder()
    rows: list[SourceRow] = []
    errors: list[ImportRowError] = []

    def fail(offset: int, reason: str) -> tuple[list[SourceRow], list[ImportRowError]]:
        return rows, [*errors, ImportRowError(line=source.line(offset), field=None, reason=reason)]

    offset = source.skip_space(0)
    if not text.startswith("[", offset):
        return fail(offset, "expected a JSON array of content items")
    offset = source.skip_space(offset + 1)
    while not text.startswith("]", offset):
        start = offset
        try:
            value, offset = decoder.raw_decode(text, offset)
        except json.JSONDecodeError as error:
            return fail(error.pos, f"malformed JSON: {error.msg}")
        if isinstance(value, dict):
            rows.append(SourceRow(source.line(start), value))
        else:
            errors.append(
                ImportRowError(line=source.line(start), field=None, reason="not an object")
            )
        offset = source.skip_space(offset)
        if text.startswith(",", offset):
            offset = source.skip_space(offset + 1)
        elif not text.startswith("]", offset):
            return fail(offset, "expected ',' or ']' after an item")
    if source.skip_space(offset + 1) < len(text):
        return fail(offset + 1, "unexpected content after the array")
    return rows, errors


def _validate(row: SourceRow) -> tuple[ItemFields | None, list[ImportRowError]]:
    try:
        return ItemFields.model_validate(row.data), []
    except ValidationError as error:
        return None, [
            ImportRowError(
                line=row.line,
                field=".".join(str(part) for part in detail["loc"]) or None,
                reason=detail["msg"],
            )
            for detail in error.errors()
        ]


async def import_posts(
    session: AsyncSession,
    principal: Principal,
    organization_id: uuid.UUID,
    file_format: ImportFormat,
    data: bytes,
) -> list[ContentItem]:
    principal.require_organization(organization_id)
    rows, errors = (parse_csv if file_format == "csv" else parse_json)(data)
    if not rows and not errors:
        errors.append(ImportRowError(line=1, field=None, reason="the file has no posts"))
    if len(rows) > MAX_ROWS:
        reason = f"{len(rows)} posts; at most {MAX_ROWS} per file"
        errors.append(ImportRowError(line=rows[MAX_ROWS].line, field=None, reason=reason))
    checked: list[tuple[int, ItemFields]] = []
    for row in rows:
        fields, problems = _validate(row)
        errors.extend(problems)
        if fields is not None:
            checked.append((row.line, fields))
    for line, fields in checked:
        if fields.engagement_id is not None:
            await engagements.require(
                session,
                fields.engagement_id,
                organization_id,
                field=f"line {line}: engagement_id",
            )
    wanted = {media_id for _, fields in checked for media_id in referenced_media(fields)}
    media = await repository.media_of_organization(session, organization_id, wanted)
    items = []
    for line, fields in checked:
        missing = referenced_media(fields) - media.keys()
        if missing:
            reason = "unknown media " + ", ".join(sorted(map(str, missing)))
            errors.append(ImportRowError(line=line, field="media_ids", reason=reason))
            continue
        item, violations = build_item(organization_id, fields, media, principal.subject)
        errors.extend(
            ImportRowError(
                line=line,
                field=f"{violation.channel}.{violation.field}",
                reason=f"{violation.rule}: {violation.message} ({violation.source})",
            )
            for violation in violations
        )
        items.append(item)
    if errors:
        raise ImportFailedError(errors)
    session.add_all(items)
    await session.flush()
    await emit(
        session,
        events.ITEMS_IMPORTED,
        events.ItemsImported(
            organization_id=organization_id,
            item_ids=[item.id for item in items],
            format=file_format,
            imported_by=principal.subject,
        ),
        organization_id,
    )
    return items
