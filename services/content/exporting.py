"""Export of content items as CSV, in the columns the import reads (so an export re-imports).

A cell that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``...) is prefixed with
``'``; the import removes that prefix.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from services.content.importing import (
    EXPORT_ONLY_COLUMNS,
    FORMULA_STARTS,
    ITEM_COLUMNS,
    VARIANT_FIELDS,
)
from services.content.models import ContentItem, Variant
from shared.domain import Channel


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "|".join(str(part) for part in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _item_cells(item: ContentItem) -> dict[str, str]:
    values = {
        "id": item.id,
        "status": item.status,
        "title": item.title,
        "kind": item.kind,
        "body": item.body,
        "link": item.link,
        "engagement_id": item.engagement_id,
        "client_approval_required": item.client_approval_required,
        "media_ids": item.media_ids,
        "channels": [variant.channel for variant in item.variants],
    }
    return {name: _cell(value) for name, value in values.items()}


def _variant_cells(variant: Variant) -> dict[str, str]:
    return {
        f"{field}:{variant.channel}": _cell(getattr(variant, field)) for field in VARIANT_FIELDS
    }


def export_csv(items: Sequence[ContentItem]) -> str:
    used = {variant.channel for item in items for variant in item.variants}
    channels = [channel.value for channel in Channel if channel.value in used]
    columns = [
        *EXPORT_ONLY_COLUMNS,
        *ITEM_COLUMNS,
        *(f"{field}:{channel}" for channel in channels for field in VARIANT_FIELDS),
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n", restval="")
    writer.writeheader()
    for item in items:
        row = _item_cells(item)
        for variant in item.variants:
            row.update(_variant_cells(variant))
        writer.writerow(row)
    return out.getvalue()
