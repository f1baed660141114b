"""Files of mentions (another tool's export) read into raw mentions: CSV with a header row, or
JSON Lines with one object per line, both UTF-8, with the same fields.

An import is all or nothing. The file is read once to check every line (``check_file``), and
only when every line is valid a second time to publish (``valid_mentions``), so a file with a
bad line publishes nothing. Both reads stream from the spooled file: what is held in memory is
at most ``MAX_IMPORT_ERRORS`` errors, or one chunk of mentions. Reading stops at
``MAX_IMPORT_ROWS`` rows and at ``MAX_IMPORT_ERRORS`` errors; the bytes are bounded while the
body is spooled (``push_api.py``), and a JSON line at ``MAX_LINE_CHARS`` (a CSV cell at the csv
module's field limit) is an error without being read whole."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.listening.contracts import Coordinates, RawAuthor, RawMention, SourceKind
from services.listening.sources.webhooks import MentionOwner

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_IMPORT_ROWS = 100_000
MAX_IMPORT_ERRORS = 100
PUBLISH_CHUNK = 1_000
# The longest JSON line read: a mention at its maxima, every character escaped, is about 130k.
MAX_LINE_CHARS = 256 * 1024

COLUMNS = (
    "external_id",
    "author",
    "text",
    "published_at",
    "url",
    "language",
    "latitude",
    "longitude",
    "author_location",
)
REQUIRED_COLUMNS = ("external_id", "author", "text", "published_at")


class ImportSettings(BaseModel):
    """Nothing to set: the file says everything."""

    model_config = ConfigDict(extra="forbid")


class ImportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


# The media types each format is sent as.
FORMATS = {
    "text/csv": ImportFormat.CSV,
    "application/x-ndjson": ImportFormat.JSONL,
    "application/jsonl": ImportFormat.JSONL,
    "application/json-lines": ImportFormat.JSONL,
}


class ImportRow(BaseModel):
    """One line of a file: empty cells are absent values."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_id: str = Field(min_length=1, max_length=300)
    author: str = Field(min_length=1, max_length=200, description="The author's handle")
    text: str = Field(max_length=20_000)
    published_at: AwareDatetime
    url: str | None = Field(None, max_length=2_000)
    language: str | None = Field(None, max_length=16)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    author_location: str | None = Field(None, max_length=300)

    @model_validator(mode="after")
    def _both_coordinates(self) -> ImportRow:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude come together")
        return self

    def mention(self, owner: MentionOwner) -> RawMention:
        coordinates = None
        if self.latitude is not None and self.longitude is not None:
            coordinates = Coordinates(latitude=self.latitude, longitude=self.longitude)
        return RawMention(
            organization_id=owner.organization_id,
            engagement_id=owner.engagement_id,
            source=SourceKind.IMPORT,
            external_id=self.external_id,
            author=RawAuthor(handle=self.author, profile_location=self.author_location),
            text=self.text,
            url=self.url,
            published_at=self.published_at,
            coordinates=coordinates,
            language=self.language,
        )


@dataclass(frozen=True)
class LineError:
    """What is wrong with a line of the file (1 is the first; a CSV's header is line 1)."""

    line: int
    field: str
    message: str
    type: str


@dataclass(frozen=True)
class FileCheck:
    rows: int
    errors: list[LineError]
    # Reading stopped at ``MAX_IMPORT_ERRORS``: later lines were not checked.
    truncated: bool = False
    # More than ``MAX_IMPORT_ROWS`` rows: reading stopped there.
    too_many_rows: bool = False


@dataclass(frozen=True)
class _Line:
    """A line's fields, or why it has none."""

    number: int
    fields: dict[str, Any] | None
    error: LineError | None


def _csv_lines(text: IO[str]) -> Iterator[_Line]:
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return
    columns = [name.strip() for name in header]
    unknown = [name for name in columns if name not in COLUMNS]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if unknown or missing or len(set(columns)) != len(columns):
        message = "; ".join(
            part
            for part in (
                f"unknown columns: {', '.join(unknown)}" if unknown else "",
                f"missing columns: {', '.join(missing)}" if missing else "",
                "a column is named twice" if len(set(columns)) != len(columns) else "",
            )
            if part
        )
        yield _Line(1, None, LineError(1, "header", message, "invalid_header"))
        return
    ended = reader.line_num
    for cells in reader:
        number, ended = ended + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            yield _Line(
                number,
                None,
                LineError(
                    number,
                    "row",
                    f"{len(cells)} cells for {len(columns)} columns",
                    "wrong_cell_count",
                ),
            )
            continue
        yield _Line(
            number,
            {name: cell for name, cell in zip(columns, cells, strict=True) if cell.strip()},
            None,
        )


def _bounded_lines(text: IO[str]) -> Iterator[str | None]:
    """The text's lines, or None for a line longer than ``MAX_LINE_CHARS`` (skipped unread)."""
    while line := text.readline(MAX_LINE_CHARS + 1):
        if len(line) <= MAX_LINE_CHARS or line.endswith("\n"):
            yield line
            continue
        while (rest := text.readline(MAX_LINE_CHARS)) and not rest.endswith("\n"):
            pass
        yield None


def _jsonl_lines(text: IO[str]) -> Iterator[_Line]:
    for number, line in enumerate(_bounded_lines(text), start=1):
        if line is None:
            message = f"longer than {MAX_LINE_CHARS} characters"
            yield _Line(number, None, LineError(number, "line", message, "line_too_long"))
            continue
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
        except json.JSONDecodeError as error:
            yield _Line(number, None, LineError(number, "line", error.msg, "json_invalid"))
            continue
        if not isinstance(fields, dict):
            yield _Line(number, None, LineError(number, "line", "not an object", "object_type"))
            continue
        yield _Line(number, fields, None)


def _lines(file: IO[bytes], format: ImportFormat) -> Iterator[_Line]:
    file.seek(0)
    # ``utf-8-sig``: spreadsheets write a byte order mark first.
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        yield from (_csv_lines(text) if format is ImportFormat.CSV else _jsonl_lines(text))
    except UnicodeDecodeError:
        yield _Line(0, None, LineError(0, "body", "the file is not UTF-8", "unicode_invalid"))
    except csv.Error as error:
        yield _Line(0, None, LineError(0, "body", f"not CSV: {error}", "csv_invalid"))
    finally:
        text.detach()


def _row_errors(number: int, error: ValidationError) -> list[LineError]:
    return [
        LineError(
            number,
            ".".join(str(part) for part in problem["loc"]) or "row",
            problem["msg"],
            problem["type"],
        )
        for problem in error.errors()
    ]


def check_file(file: IO[bytes], format: ImportFormat) -> FileCheck:
    """Every line checked, stopping at the limits."""
    rows = 0
    errors: list[LineError] = []
    for line in _lines(file, format):
        if line.error is None:
            rows += 1
            if rows > MAX_IMPORT_ROWS:
                return FileCheck(rows=rows - 1, errors=errors, too_many_rows=True)
            try:
                ImportRow.model_validate(line.fields)
            except ValidationError as error:
                errors.extend(_row_errors(line.number, error))
        else:
            errors.append(line.error)
        if len(errors) >= MAX_IMPORT_ERRORS:
            return FileCheck(rows=rows, errors=errors[:MAX_IMPORT_ERRORS], truncated=True)
    return FileCheck(rows=rows, errors=errors)


def valid_mentions(
    file: IO[bytes], format: ImportFormat, owner: MentionOwner
) -> Iterator[list[RawMention]]:
    """The mentions of a file ``check_file`` found valid, ``PUBLISH_CHUNK`` at a time."""
    chunk: list[RawMention] = []
    for line in _lines(file, format):
        chunk.append(ImportRow.model_validate(line.fields).mention(owner))
        if len(chunk) == PUBLISH_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
