"""Lists a page at a time, the same in every service: keyset cursors and the ``Link`` header.

A list orders its rows by a :class:`Keyset` (columns whose last one is unique) and answers at
most ``limit`` of them; when more follow, ``Link: <…?cursor=…>; rel="next"`` (RFC 8288) names the
next page. A cursor is the sort key of the last row a page held, opaque to the caller: the next
page starts strictly after it, so rows added meanwhile neither repeat nor shift the pages, and a
deep page costs what the first one does (an offset would make PostgreSQL skip every row before).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, TypeVar, TypeVarTuple
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from shared.errors import ProblemError

# Behind the gateway a service sees its own path; the caller must get back the one it called.
FORWARDED_PREFIX_HEADER = "x-forwarded-prefix"

CURSOR_MAX_LENGTH = 200
DEFAULT_PAGE = 50
MAX_PAGE = 200

Row = TypeVar("Row")
Columns = TypeVarTuple("Columns")


class PageQuery(BaseModel):
    """A list's ``limit`` and ``cursor`` query parameters, bounded.

    Extra parameters are left alone: a list's filters sit beside this model in the query, and
    FastAPI hands every query parameter to each query model."""

    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE, description="Rows per page")
    cursor: str | None = Field(
        None,
        max_length=CURSOR_MAX_LENGTH,
        description="Where the page starts: the `cursor` of the `Link` header's next page",
    )


PageDep = Annotated[PageQuery, Query()]


@dataclass(frozen=True)
class Keyset:
    """How a list is ordered: by ``columns`` (the last one unique), newest or greatest first
    when ``descending``."""

    columns: tuple[InstrumentedAttribute[Any], ...]
    descending: bool = False

    def key_of(self, row: object) -> tuple[Any, ...]:
        return tuple(getattr(row, column.key) for column in self.columns)


def paged(statement: Select[*Columns], keyset: Keyset, page: PageQuery) -> Select[*Columns]:
    """``statement`` ordered by ``keyset``, from after the cursor, one row more than the page
    (whether a next page exists, in the same query)."""
    if page.cursor is not None:
        after = decode_cursor(page.cursor, keyset)
        key = tuple_(*keyset.columns)
        statement = statement.where(key < tuple_(*after) if keyset.descending else key > after)
    order = [column.desc() if keyset.descending else column.asc() for column in keyset.columns]
    return statement.order_by(*order).limit(page.limit + 1)


def page_of(
    rows: Sequence[Row], keyset: Keyset, page: PageQuery, request: Request, response: Response
) -> list[Row]:
    """The page's rows out of what :func:`paged` selected; the ``Link`` header when more follow."""
    if len(rows) <= page.limit:
        return list(rows)
    held = list(rows[: page.limit])
    set_next_link(request, response, encode_cursor(keyset.key_of(held[-1])))
    return held


def set_next_link(request: Request, response: Response, cursor: str) -> None:
    """``Link: <…>; rel="next"`` with the caller's other query parameters kept."""
    following = urlencode({**request.query_params, "cursor": cursor})
    path = request.headers.get(FORWARDED_PREFIX_HEADER, "") + request.url.path
    response.headers["Link"] = f'<{path}?{following}>; rel="next"'


# --- cursors ----------------------------------------------------------------------------------


def _plain(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def encode_cursor(key: Sequence[object]) -> str:
    raw = json.dumps([_plain(value) for value in key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, keyset: Keyset) -> tuple[Any, ...]:
    """The key ``encode_cursor`` made, each part as its column's type; anything else is the
    caller's error (422)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise invalid_cursor() from None
    if (
        not isinstance(parts, list)
        or len(parts) != len(keyset.columns)
        or not all(isinstance(part, str) for part in parts)
    ):
        raise invalid_cursor()
    try:
        return tuple(
            _parse(part, column) for part, column in zip(parts, keyset.columns, strict=True)
        )
    except (ValueError, OverflowError):
        raise invalid_cursor() from None


def _parse(part: str, column: InstrumentedAttribute[Any]) -> object:
    kind = column.type.python_type
    if kind is datetime:
        moment = datetime.fromisoformat(part)
        if getattr(column.type, "timezone", False) and moment.tzinfo is None:
            raise ValueError("a naive moment")
        return moment
    if kind is date:
        return date.fromisoformat(part)
    if kind is uuid.UUID:
        return uuid.UUID(part)
    if kind is int:
        if len(part) > 20:
            raise ValueError("too long")
        return int(part)
    if kind is str:
        return part
    raise TypeError(f"{column} cannot order a keyset page")


def invalid_cursor() -> ProblemError:
    return ProblemError(422, "invalid-cursor", "The cursor is not one this list gave.")
