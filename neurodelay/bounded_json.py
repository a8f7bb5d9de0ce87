"""Reading JSON files that a user hands over (a run folder's ``metrics.json``) with bounds: a size
limit, UTF-8, and nesting too deep for Python's parser turned into a one-line error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import ValidationError

MAX_JSON_BYTES = 64 * 2**20
"""Largest JSON file read (bytes)."""


def read_json_file(path: str | Path, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The JSON value in the file at ``path``; :class:`ValidationError` naming the file otherwise."""
    path = Path(path)
    try:
        with open(path, "rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as error:
        raise ValidationError(
            "(file)", f"cannot be read ({error.strerror})", "a readable JSON file", file=path
        ) from None
    if len(data) > max_bytes:
        raise ValidationError("(file)", f"more than {max_bytes} bytes", f"at most {max_bytes} bytes of JSON", file=path)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ValidationError(
            "(file)", f"not UTF-8 text (byte {error.start})", "a UTF-8 JSON file", file=path
        ) from None
    except RecursionError:
        raise ValidationError(
            "(file)", "nested too deeply to parse", "JSON as neurodelay writes it", file=path
        ) from None
    except ValueError as error:
        raise ValidationError(
            "(file)",
            f"not valid JSON ({' '.join(str(error).split())[:160]})",
            "JSON as neurodelay writes it",
            file=path,
        ) from None
