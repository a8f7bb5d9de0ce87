"""A sweep's results from its study: ``results.csv`` (every trial), ``results.md`` (finished
trials, best first), ``results.png`` (the metric by trial, and against each parameter) and
``best_config.yaml`` (the base config with the best trial's values). All written atomically."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import yaml

from ..atomic import atomic_path, write_text
from ..train.config import ExperimentConfig
from .space import SearchSpace, configured

CSV_NAME, MARKDOWN_NAME, PLOT_NAME, BEST_CONFIG_NAME = "results.csv", "results.md", "results.png", "best_config.yaml"
REPORTED = ("final_test_accuracy", "best_test_accuracy", "best_validation_accuracy", "epochs", "seconds")


def trial_rows(study, space: SearchSpace) -> list[dict[str, Any]]:
    """One row per trial: number, state, parameters, metric value, reported metrics, run folder."""
    rows, trials = [], study.get_trials(deepcopy=False)
    retried_as = {number: trial.number for trial in trials for number in trial.system_attrs.get("retry_history", [])}
    for trial in trials:
        metrics = trial.user_attrs.get("metrics", {})
        row = {"trial": trial.number, "state": trial.state.name}
        row.update({name: trial.params.get(name) for name in space.parameters})
        row[space.metric] = trial.value
        row.update({name: metrics.get(name) for name in REPORTED if name != space.metric})
        row["run_dir"] = trial.user_attrs.get("run_dir")
        row["note"] = trial.user_attrs.get("error") or (
            f"interrupted; retried as trial {retried_as[trial.number]}" if trial.number in retried_as else ""
        )
        rows.append(row)
    return rows


def finished(rows: list[dict[str, Any]], space: SearchSpace) -> list[dict[str, Any]]:
    complete = [row for row in rows if row["state"] == "COMPLETE"]
    return sorted(complete, key=lambda row: row[space.metric], reverse=space.direction == "maximize")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def write_report(out: Path, study, base: ExperimentConfig, space: SearchSpace) -> dict[str, Any]:
    """Write the four files; returns ``{"complete", "best": row or None, "failed": [(trial, error)]}``
    (failed: the trials that ended with an error, not the interrupted ones)."""
    out = Path(out)
    rows = trial_rows(study, space)
    columns = list(rows[0]) if rows else ["trial", "state"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / CSV_NAME, buffer.getvalue())

    ranked = finished(rows, space)
    shown = [c for c in columns if c not in ("state", "note")]
    lines = [
        f"# Sweep: {base.name}, {space.sampler} sampler, metric {space.metric} ({space.direction})",
        "",
        f"{len(ranked)} of {space.n_trials} trials complete; accuracies as fractions, seconds of training.",
        "",
        "| " + " | ".join(shown) + " |",
        "|" + "---|" * len(shown),
    ]
    lines += ["| " + " | ".join(_cell(row[c]) for c in shown) + " |" for row in ranked]
    failures = [row for row in rows if row["state"] == "FAIL" and row["note"]]
    if failures:
        lines += ["", "Failed trials:", ""] + [f"- trial {row['trial']}: {row['note']}" for row in failures]
    write_text(out / MARKDOWN_NAME, "\n".join(lines) + "\n")
    _plot(out / PLOT_NAME, ranked, space)

    best = ranked[0] if ranked else None
    if best is not None:
        config = configured(base, {name: best[name] for name in space.parameters})
        header = (
            f"# Best of sweep over {', '.join(space.parameters)}: trial {best['trial']}, "
            f"{space.metric} = {best[space.metric]:.6g} (run folder {best['run_dir']})\n"
        )
        write_text(out / BEST_CONFIG_NAME, header + yaml.safe_dump(config.to_dict(), sort_keys=False))
    failed = [
        (trial.number, trial.user_attrs["error"])
        for trial in study.get_trials(deepcopy=False)
        if trial.state.name == "FAIL" and "error" in trial.user_attrs
    ]
    return {"complete": len(ranked), "best": best, "failed": failed}


def _plot(path: Path, ranked: list[dict[str, Any]], space: SearchSpace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(space.parameters)
    figure, axes = plt.subplots(1, 1 + len(names), figsize=(3.6 * (1 + len(names)), 3.2), squeeze=False)
    by_trial = sorted(ranked, key=lambda row: row["trial"])
    values = [row[space.metric] for row in by_trial]
    axes[0, 0].plot([row["trial"] for row in by_trial], values, "o", label="trial")
    if values:
        pick = max if space.direction == "maximize" else min
        running = [pick(values[: i + 1]) for i in range(len(values))]
        axes[0, 0].step([row["trial"] for row in by_trial], running, where="post", label="best so far")
        axes[0, 0].legend()
    axes[0, 0].set_xlabel("trial")
    axes[0, 0].set_ylabel(space.metric)
    for axis, name in zip(axes[0, 1:], names):
        xs = [row[name] for row in by_trial]
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs):
            axis.plot(xs, values, "o")
            if space.parameters[name].log:
                axis.set_xscale("log")
        else:
            labels = sorted({str(x) for x in xs})
            axis.plot([labels.index(str(x)) for x in xs], values, "o")
            axis.set_xticks(range(len(labels)), labels)
        axis.set_xlabel(name)
    figure.tight_layout()
    try:
        with atomic_path(path, suffix=".png") as temporary:
            figure.savefig(temporary, dpi=100)
    finally:
        plt.close(figure)
