"""A campaign directory: its manifest, the append-only results and the session log.

    DIR/manifest.json     what the campaign is (target, executor, count, first seed, distribution);
                          a directory holding another campaign's manifest is refused
    DIR/results.jsonl     one JSON record per network, appended and fsync'ed chunk by chunk
    DIR/sessions.jsonl    per session, its elapsed wall time and networks done after each chunk
    DIR/summary.json, DIR/summary.md, DIR/cases/   written by :mod:`.summary` and the workers

A line cut short by a kill (the last one) is dropped, and the file cut back to its last whole line,
before anything is appended again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from ...atomic import write_json
from ...bounded_json import read_json_file
from ...errors import ValidationError

MANIFEST = "manifest.json"
RESULTS = "results.jsonl"
SESSIONS = "sessions.jsonl"
FORMAT = "neurodelay-parity-campaign/1"


def open_campaign(out: Path, manifest: dict[str, Any], resume: bool) -> None:
    """Create ``out`` with ``manifest``, or check that it holds this very campaign.

    ``resume`` True requires an existing manifest; a different manifest is always refused."""
    path = out / MANIFEST
    if path.exists():
        found = read_json_file(path)
        if found != manifest:
            differing = sorted(key for key in set(found) | set(manifest) if found.get(key) != manifest.get(key))
            raise ValidationError(
                f"--out {out}",
                f"holds another campaign (differs in {', '.join(differing)}: {[found.get(k) for k in differing]})",
                f"an empty folder or one holding this campaign ({', '.join(f'{k}={manifest[k]}' for k in differing if k in manifest)})",
            )
        return
    if resume:
        raise ValidationError(
            "--resume", f"{out} holds no campaign ({MANIFEST} missing)", "a campaign directory to resume"
        )
    if out.exists() and any(out.iterdir()):
        raise ValidationError(f"--out {out}", "is not empty and holds no campaign manifest", "an empty or new folder")
    out.mkdir(parents=True, exist_ok=True)
    write_json(path, manifest)


def read_lines(path: Path, repair: bool = False) -> list[dict[str, Any]]:
    """The whole JSON lines of ``path`` ([] if absent); ``repair`` cuts a torn last line off the file."""
    if not path.exists():
        return []
    data = path.read_bytes()
    whole = data[: data.rfind(b"\n") + 1]
    if repair and len(whole) != len(data):
        with open(path, "r+b") as stream:
            stream.truncate(len(whole))
            stream.flush()
            os.fsync(stream.fileno())
    records = []
    for number, line in enumerate(whole.decode("utf-8").splitlines(), 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise ValidationError(f"{path} line {number}", "is not a JSON record", "one JSON object per line") from None
    return records


def append_lines(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Append one JSON line per record and fsync before returning."""
    payload = "".join(json.dumps(item, sort_keys=True, default=str) + "\n" for item in records).encode("utf-8")
    with open(path, "ab") as stream:
        stream.write(payload)
        stream.flush()
        os.fsync(stream.fileno())
