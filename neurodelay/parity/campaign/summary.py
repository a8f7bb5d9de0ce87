"""A campaign's summary (JSON and Markdown) from its records alone.

Everything but the ``throughput`` block depends only on the records, sorted by seed, so a resumed
campaign and an uninterrupted one give the same summary; ``throughput`` comes from the session log.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from ...atomic import write_json, write_text
from .runner import STATUSES


def summarize(
    manifest: dict[str, Any], records: list[dict[str, Any]], sessions: list[dict[str, Any]], corners: tuple[str, ...]
) -> dict[str, Any]:
    """The summary of ``records`` (one per network; a later duplicate of a seed is ignored)."""
    unique: dict[int, dict[str, Any]] = {}
    for item in records:
        unique.setdefault(int(item["seed"]), item)
    ordered = [unique[seed] for seed in sorted(unique)]
    ran = [r for r in ordered if r["status"] in ("matched", "mismatch")]
    coverage = Counter(corner for r in ran for corner in r["corners"])
    draws: dict[str, Counter] = {}
    for r in ordered:
        for key, value in (r.get("draw") or {}).items():
            draws.setdefault(key, Counter())[str(value)] += 1
    per_session: dict[str, dict[str, float]] = {}
    for line in sessions:
        entry = per_session.setdefault(line["session"], {"seconds": 0.0, "nets": 0})
        entry["seconds"] = max(entry["seconds"], float(line["elapsed_s"]))
        entry["nets"] = max(entry["nets"], int(line["nets"]))
    seconds = sum(e["seconds"] for e in per_session.values())
    nets = sum(e["nets"] for e in per_session.values())
    rejected = Counter(reason_of(r["error"]) for r in ordered if r["status"] == "rejected")
    return {
        "campaign": manifest,
        "requested": manifest["count"],
        "completed": len(ordered),
        "complete": len(ordered) == manifest["count"],
        "statuses": {status: sum(r["status"] == status for r in ordered) for status in STATUSES},
        "coverage": {corner: coverage.get(corner, 0) for corner in corners},
        "uncovered": [corner for corner in corners if not coverage.get(corner)],
        "draws": {key: dict(sorted(counts.items())) for key, counts in sorted(draws.items())},
        "compared": {key: sum(r[key] for r in ran) for key in ("steps", "neurons", "synapses", "spikes")},
        "mismatches": [
            {
                "seed": r["seed"],
                "name": r["name"],
                "first_divergence": r["first_divergence"],
                "differences": r["differences"],
                "case": r["case"],
                "reproduce": reproduce_command(manifest, r["case"]),
            }
            for r in ordered
            if r["status"] == "mismatch"
        ],
        "failures": [
            {"seed": r["seed"], "status": r["status"], "error": r["error"]}
            for r in ordered
            if r["status"] in ("hung", "crashed")
        ],
        "rejections": dict(sorted(rejected.items())),
        "throughput": {
            "sessions": len(per_session),
            "seconds": round(seconds, 1),
            "nets_timed": nets,
            "nets_per_s": round(nets / seconds, 4) if seconds > 0 else None,
        },
    }


def reason_of(error: str) -> str:
    """A rejection's kind: its first line with every number and quoted name replaced by ``#``."""
    first = error.splitlines()[0] if error else ""
    return re.sub(r"'[^']*'|\d+(\.\d+)?", "#", first)[:200]


def reproduce_command(manifest: dict[str, Any], case: dict[str, str]) -> str:
    """The command (run in the campaign folder) that checks the saved case again."""
    return (
        f"neurodelay parity {case['network']} --target {manifest['target']} "
        f"--executor {manifest['executor']} --inputs {case['inputs']}"
    )


def markdown(summary: dict[str, Any]) -> str:
    campaign = summary["campaign"]
    throughput = summary["throughput"]
    lines = [
        f"# Parity campaign: {campaign['target']} / {campaign['executor']}",
        "",
        f"{summary['completed']} of {summary['requested']} networks done (seeds {campaign['seed']} to "
        f"{campaign['seed'] + campaign['count'] - 1}, distribution version {campaign['distribution']})"
        + ("" if summary["complete"] else "; **the campaign is not complete**")
        + ".",
        "",
        "| status | networks |",
        "|---|---:|",
        *(f"| {status} | {count} |" for status, count in summary["statuses"].items()),
        "",
        f"Throughput: {throughput['nets_per_s']} networks/s ({throughput['nets_timed']} networks in "
        f"{throughput['seconds']} s over {throughput['sessions']} session(s)).",
        "",
        "## Coverage (networks whose run exercised each corner)",
        "",
        "| corner | networks |",
        "|---|---:|",
        *(f"| {corner} | {count} |" for corner, count in summary["coverage"].items()),
        "",
        f"Compared: {summary['compared']['steps']} steps, {summary['compared']['neurons']} neurons, "
        f"{summary['compared']['synapses']} synapses, {summary['compared']['spikes']} reference spikes.",
        "",
        "## Mismatches",
        "",
    ]
    if not summary["mismatches"]:
        lines.append("None.")
    for item in summary["mismatches"]:
        first = item["first_divergence"]
        lines += [
            f"- seed {item['seed']}: first divergence {first}; files {item['case']}",
            f"  reproduce: `{item['reproduce']}`",
        ]
    lines += ["", "## Hung or crashed runs", ""]
    lines += [
        f"- seed {f['seed']}: {f['status']}: {f['error'].splitlines()[0] if f['error'] else ''}"
        for f in summary["failures"]
    ] or ["None."]
    lines += ["", "## Rejected by the target's quantizer or exporter", ""]
    lines += [f"- {count} x {reason}" for reason, count in summary["rejections"].items()] or ["None."]
    return "\n".join(lines) + "\n"


def write_summary(out: Path, summary: dict[str, Any]) -> tuple[Path, Path]:
    return write_json(out / "summary.json", summary), write_text(out / "summary.md", markdown(summary))
