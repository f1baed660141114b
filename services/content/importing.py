"""Bulk import of posts from CSV or JSON: every row is checked, then all are written or none.

CSV: a header row, then one post per row. Columns: ``title`` and ``kind`` (required), ``body``,
``link``, ``engagement_id``, ``client_approval_required``, ``media_ids`` and ``channels`` (values
separated by ``|`` or spaces), and per channel ``text:<channel>``, ``title:<channel>``,
``link:<channel>``, ``media_ids:<channel>``. Each channel in ``channels`` gets a variant; an empty
cell takes the item's value. ``id`` and ``status`` (written by the export) are ignored, and so is
the ``'`` the export puts before a cell that starts like a spreadsheet formula.

JSON: an array of objects shaped like ``POST /content-items`` bodies without ``organization_id``.

The file is parsed as it arrives, row by row, and each row is checked as it is parsed: reading
stops at the ``MAX_ROWS + 1``-th post or at the ``MAX_ERRORS``-th problem, so a file far over
either limit is refused without reading the rest of it. Errors name the line where the row starts
(1-based; the CSV header is line 1); the problem says where reading stopped when it stopped early.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import dataclasses
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
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
MAX_ERRORS = 100
# The most text one JSON item may take: a post with all its variants is a few kilobytes.
MAX_JSON_ITEM_CHARS = 256 * 1024
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
    def __init__(self, errors: list[ImportRowError], stopped_at_line: int | None = None) -> None:
        ordered = sorted(errors, key=lambda error: error.line)
        truncated = len(ordered) > MAX_ERRORS or stopped_at_line is not None
        reading = f"; reading stopped at line {stopped_at_line}" if stopped_at_line else ""
        super().__init__(
            422,
            "import-failed",
            f"{len(ordered)} problem(s) in the file{reading}; nothing was imported",
            title="Import failed",
            rows=[error.model_dump() for error in ordered[:MAX_ERRORS]],
            truncated=truncated,
            stopped_at_line=stopped_at_line,
        )


@dataclass
class Parsed:
    """What reading the file found: the rows that passed the item checks, and the problems.

    ``stopped_at_line`` is set when reading stopped before the end of the file (a limit)."""

    rows: list[tuple[int, ItemFields]] = dataclasses.field(default_factory=list)
    errors: list[ImportRowError] = dataclasses.field(default_factory=list)
    seen: int = 0
    stopped_at_line: int | None = None

    def row(self, line: int, data: dict[str, Any] | None, *problems: ImportRowError) -> bool:
        """Count one post (its data, or what makes it unreadable) and check it; False when
        reading must stop there."""
        self.seen += 1
        if self.seen > MAX_ROWS:
            reason = f"more than {MAX_ROWS} posts; at most {MAX_ROWS} per file"
            self.errors.append(ImportRowError(line=line, field=None, reason=reason))
            self.stopped_at_line = line
            return False
        if data is not None:
            fields, found = _validate(SourceRow(line, data))
            if fields is not None:
                self.rows.append((line, fields))
            problems = (*problems, *found)
        return self.fail(line, *problems)

    def fail(self, line: int, *problems: ImportRowError) -> bool:
        """Record problems found at ``line``; False when there are enough to stop reading."""
        self.errors.extend(problems)
        if len(self.errors) >= MAX_ERRORS:
            self.stopped_at_line = line
            return False
        return True


class NotUtf8Error(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def decoded(chunks: Iterator[bytes]) -> Iterator[str]:
    """UTF-8 text (a leading byte order mark dropped) as the bytes arrive; ``NotUtf8Error``
    names the line of the first byte that is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    lines = 0
    for chunk in _with_end(chunks):
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            raise NotUtf8Error(lines + chunk[: max(error.start, 0)].count(b"\n") + 1) from error
        lines += text.count("\n")
        if text:
            yield text


def _with_end(chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield from (chunk for chunk in chunks if chunk)
    yield b""


def text_lines(texts: Iterator[str]) -> Iterator[str]:
    """The text's lines, each with its ``\n``, however the text was cut into pieces."""
    pending: list[str] = []
    for text in texts:
        *complete, rest = text.split("\n")
        for piece in complete:
            yield "".join([*pending, piece, "\n"])
            pending = []
        if rest:
            pending.append(rest)
    if pending:
        yield "".join(pending)


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


def parse_csv(chunks: Iterator[bytes]) -> Parsed:
    parsed = Parsed()
    reader = csv.reader(text_lines(decoded(chunks)))
    try:
        columns = [name.strip() for name in next(reader, [])]
        header_errors = _header_errors(columns)
        if header_errors:
            parsed.fail(1, *header_errors)
            return parsed
        start = reader.line_num + 1
        for record in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(columns):
                reason = f"expected {len(columns)} fields, found {len(record)}"
                go_on = parsed.row(line, None, ImportRowError(line=line, field=None, reason=reason))
            else:
                try:
                    data = _csv_row(dict(zip(columns, record, strict=True)))
                except ValueError as error:
                    problem = ImportRowError(line=line, field=None, reason=str(error))
                    go_on = parsed.row(line, None, problem)
                else:
                    go_on = parsed.row(line, data)
            if not go_on:
                break
    except csv.Error as error:
        parsed.fail(
            reader.line_num, ImportRowError(line=reader.line_num, field=None, reason=str(error))
        )
    except NotUtf8Error as error:
        parsed.fail(error.line, _not_utf8(error.line))
    return parsed


def _not_utf8(line: int) -> ImportRowError:
    return ImportRowError(line=line, field=None, reason="the file is not UTF-8 text")


class _JsonText:
    """The text of a JSON file as it arrives: the unread part of it, and its line numbers."""

    def __init__(self, texts: Iterator[str]) -> None:
        self._texts = texts
        self.text = ""
        self.offset = 0
        self._line = 1  # the line of ``text[0]``
        self.ended = False

    def more(self) -> bool:
        """Read the next piece of the file; False at its end."""
        if self.ended:
            return False
        piece = next(self._texts, None)
        if piece is None:
            self.ended = True
            return False
        consumed = self.text[: self.offset]
        self._line += consumed.count("\n")
        self.text, self.offset = self.text[self.offset :] + piece, 0
        return True

    def line(self, offset: int) -> int:
        return self._line + self.text.count("\n", 0, offset)

    def skip_space(self) -> None:
        while True:
            while self.offset < len(self.text) and self.text[self.offset] in " \t\r\n":
                self.offset += 1
            if self.offset < len(self.text) or not self.more():
                return

    def startswith(self, prefix: str) -> bool:
        self.skip_space()
        return self.text.startswith(prefix, self.offset)

    def value(self, decoder: json.JSONDecoder) -> Any:
        """The next JSON value, reading on while it is cut off (up to ``MAX_JSON_ITEM_CHARS``)."""
        while True:
            try:
                value, end = decoder.raw_decode(self.text, self.offset)
            except json.JSONDecodeError:
                if len(self.text) - self.offset <= MAX_JSON_ITEM_CHARS and self.more():
                    continue
                raise
            # A number at the end of what has arrived may go on in the next piece.
            if end == len(self.text) and self.more():
                continue
            self.offset = end
            return value


def parse_json(chunks: Iterator[bytes]) -> Parsed:
    """An array of objects, decoded element by element so each row knows its line."""
    parsed = Parsed()
    source, decoder = _JsonText(decoded(chunks)), json.JSONDecoder()

    def fail(offset: int, reason: str) -> Parsed:
        line = source.line(offset)
        parsed.fail(line, ImportRowError(line=line, field=None, reason=reason))
        return parsed

    try:
        if not source.startswith("["):
            return fail(source.offset, "expected a JSON array of content items")
        source.offset += 1
        while not source.startswith("]"):
            line = source.line(source.offset)
            try:
                value = source.value(decoder)
            except json.JSONDecodeError as error:
                return fail(error.pos, f"malformed JSON: {error.msg}")
            if isinstance(value, dict):
                go_on = parsed.row(line, value)
            else:
                problem = ImportRowError(line=line, field=None, reason="not an object")
                go_on = parsed.row(line, None, problem)
            if not go_on:
                return parsed
            if source.startswith(","):
                source.offset += 1
            elif not source.startswith("]"):
                return fail(source.offset, "expected ',' or ']' after an item")
        source.offset += 1
        source.skip_space()
        if source.offset < len(source.text):
            return fail(source.offset, "unexpected content after the array")
    except NotUtf8Error as error:
        parsed.fail(error.line, _not_utf8(error.line))
    return parsed


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


def _blocking(body: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop) -> Iterator[bytes]:
    """The body's chunks for a parser in a worker thread: each waits for the event loop to
    receive the next one, so the body is read only as far as the parser goes."""

    async def receive() -> bytes | None:
        return await anext(body, None)

    while (chunk := asyncio.run_coroutine_threadsafe(receive(), loop).result()) is not None:
        yield chunk


async def import_posts(
    session: AsyncSession,
    principal: Principal,
    organization_id: uuid.UUID,
    file_format: ImportFormat,
    body: AsyncIterator[bytes],
) -> list[ContentItem]:
    principal.require_organization(organization_id)
    parse = parse_csv if file_format == "csv" else parse_json
    parsed = await asyncio.to_thread(parse, _blocking(body, asyncio.get_running_loop()))
    if parsed.stopped_at_line is not None:
        raise ImportFailedError(parsed.errors, parsed.stopped_at_line)
    errors = parsed.errors
    if not parsed.seen and not errors:
        errors.append(ImportRowError(line=1, field=None, reason="the file has no posts"))
    checked = parsed.rows
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
