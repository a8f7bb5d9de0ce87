"""Seeded repeats of one experiment: ``neurodelay train CONFIG --repeats N``.

Run i (0-based) is the config with ``seed = config.seed + i`` in ``OUT/seed_<seed>/``; a run
folder that already holds a finished run is read back, one with only a checkpoint is resumed,
so an interrupted set of repeats continues where it stopped. The summary reports, as the field
does, mean +- sample standard deviation (n - 1) over the runs of

* ``final``: test accuracy of the network the run writes: after the last trained epoch, or of the
  average of its last epochs' parameters with ``weight_averaging``;
* ``best``: test accuracy at the best epoch, chosen without looking at the test set: the epoch
  early stopping kept (config ``early_stopping``), else the first epoch of highest validation
  accuracy, else of highest training accuracy;
* ``peak``: the highest test accuracy of any epoch (optimistic: chosen on the test set; shown
  because some publications report it).

Written atomically: ``OUT/repeats.json`` and ``OUT/repeats.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_json, write_text
from ..errors import NeurodelayError, ValidationError
from .config import ExperimentConfig
from .metrics import METRICS_NAME

SUMMARY_JSON = "repeats.json"
SUMMARY_MARKDOWN = "repeats.md"


def best_record(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The record of the best epoch (see the module docstring) of one run's ``metrics.json``."""
    kept = [record for record in records if record.get("best_so_far")]
    if kept:
        return kept[-1]
    key = "validation_accuracy" if "validation_accuracy" in records[0] else "train_accuracy"
    return max(records, key=lambda record: (record[key], -record["epoch"]))


@dataclass(frozen=True)
class RunSummary:
    """One repeat: its seed, epochs trained, and test accuracies (fractions)."""

    seed: int
    epochs: int
    best_epoch: int
    final_test: float
    best_test: float
    peak_test: float
    seconds: float

    @classmethod
    def from_records(cls, seed: int, records: list[dict[str, Any]]) -> "RunSummary":
        best = best_record(records)
        return cls(
            seed=seed,
            epochs=len(records),
            best_epoch=int(best["epoch"]),
            final_test=float(records[-1].get("averaged", records[-1])["test_accuracy"]),
            best_test=float(best["test_accuracy"]),
            peak_test=max(float(r["test_accuracy"]) for r in records),
            seconds=float(sum(r["seconds"] for r in records)),
        )


def mean_and_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    array = np.asarray(values, np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


def summarise(runs: list[RunSummary]) -> dict[str, Any]:
    """Mean and std of the final, best and peak test accuracies (fractions) and run times (s)."""
    summary: dict[str, Any] = {"runs": [run.__dict__ for run in runs], "n": len(runs)}
    for name in ("final_test", "best_test", "peak_test", "seconds"):
        mean, std = mean_and_std([getattr(run, name) for run in runs])
        summary[name] = {"mean": mean, "std": std}
    return summary


def markdown(summary: dict[str, Any], name: str) -> str:
    """The summary as a Markdown table (percentages), one row per seed and a mean +- std row."""
    lines = [
        f"# {name}: {summary['n']} seeded repeats",
        "",
        "| seed | epochs | best epoch | final test % | best test % | peak test % | time s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in summary["runs"]:
        lines.append(
            f"| {run['seed']} | {run['epochs']} | {run['best_epoch']} | {100 * run['final_test']:.2f} | "
            f"{100 * run['best_test']:.2f} | {100 * run['peak_test']:.2f} | {run['seconds']:.0f} |"
        )
    cell = lambda key, scale: f"{scale * summary[key]['mean']:.2f} +- {scale * summary[key]['std']:.2f}"  # noqa: E731
    lines.append(
        f"| mean +- std | | | {cell('final_test', 100)} | {cell('best_test', 100)} | "
        f"{cell('peak_test', 100)} | {cell('seconds', 1)} |"
    )
    lines += [
        "",
        "final: the written network (the last epoch, or the average of the last epochs with weight_averaging); "
        "best: at the epoch kept by early stopping (else the best "
        "validation epoch); peak: best test epoch (chosen on the test set, optimistic). "
        "std: sample standard deviation (n - 1).",
    ]
    return "\n".join(lines) + "\n"


def repeat_seeds(config: ExperimentConfig, repeats: int) -> range:
    """The seeds ``config.seed .. config.seed + repeats - 1``, checked before any is listed."""
    if repeats < 1:
        raise ValidationError("--repeats", f"got {repeats}", ">= 1 run")
    last = config.seed + repeats - 1
    if last >= 2**32:
        raise ValidationError(
            "--repeats", f"seeds {config.seed}..{last} pass 2**32 - 1", "fewer repeats or a smaller seed"
        )
    return range(config.seed, last + 1)


def check_finished_run(network_path: Path, config: ExperimentConfig, limit: int | None) -> None:
    """Refuse to summarise a finished run that another config (or ``--limit``) trained: its
    network's training record must hold this config (the device aside) and limit."""
    from .. import ir
    from .trainer import config_difference

    network = ir.load(network_path)
    saved = network.training_config() or {}
    saved_limit = network.provenance["training"].get("limit") if saved else None
    where = config_difference(saved, saved_limit, config, limit, ("device",), "that run")
    if where is not None:
        raise NeurodelayError(
            f"{network_path}: a finished run of another config or --limit ({where}): "
            "choose another --out, or remove that run folder"
        )


def run_repeats(
    config: ExperimentConfig, out: Path, repeats: int, *, limit: int | None = None, progress: bool = True
) -> dict[str, Any]:
    """Train (or resume, or read back) ``repeats`` seeded runs under ``out``; write and return the summary."""
    from .trainer import NETWORK_NAME, RunOptions, train
    from .checkpoint import CHECKPOINT_NAME

    out = Path(out)
    runs = []
    for seed in repeat_seeds(config, repeats):
        run_dir = out / f"seed_{seed}"
        if (run_dir / NETWORK_NAME).exists():
            check_finished_run(run_dir / NETWORK_NAME, replace(config, seed=seed), limit)
            records = json.loads((run_dir / METRICS_NAME).read_text())
            records = records["records"] if isinstance(records, dict) else records
        else:
            resume = (run_dir / CHECKPOINT_NAME).exists()
            records = train(
                replace(config, seed=seed), RunOptions(run_dir, resume=resume, limit=limit, progress=progress)
            )
        runs.append(RunSummary.from_records(seed, records))
    summary = summarise(runs)
    summary.update(config_name=config.name, limit=limit)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / SUMMARY_JSON, summary, indent=1)
    write_text(out / SUMMARY_MARKDOWN, markdown(summary, config.name))
    return summary
