"""What every target's exporter returns: ``export(network, out_dir, **options) -> ExportResult``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ExportResult:
    """One export.

    target: the target's registry name; out_dir: where it was written (a file for a file format);
    files: ``{role: path}`` of every file written; report: one line per lossy step, limit or
    instruction the user should read; artefact: the exporter's in-memory result (e.g. the integer
    model or the graph), for callers that keep working with it.
    """

    target: str
    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    report: list[str] = field(default_factory=list)
    artefact: Any = None
