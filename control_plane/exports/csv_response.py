"""A list endpoint's rows as CSV: the JSON form's fields as the header row, one row per item.

One writer for every `format=csv` (queries, recommendations, audit), so the columns are always the
response model's fields in their declared order, and a field added to the JSON appears in the CSV
too. Nested values (lists, objects) are written as compact JSON in their cell; null is empty.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any, Literal

from fastapi.responses import Response
from pydantic import BaseModel

ExportFormat = Literal["json", "csv"]
# For the route decorator: OpenAPI lists text/csv beside the JSON answer.
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "JSON, or CSV with format=csv",
    }
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_response(model: type[BaseModel], rows: Sequence[BaseModel], filename: str) -> Response:
    fields = list(model.model_fields)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(fields)
    for row in rows:
        dumped = row.model_dump(mode="json")
        writer.writerow([_cell(dumped.get(field)) for field in fields])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
