"""Per-epoch metrics of a run: ``metrics.json`` (a list of records) and the plot ``metrics.png``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..atomic import atomic_path, write_json

METRICS_NAME = "metrics.json"
PLOT_NAME = "metrics.png"


def write_metrics(run_dir: Path, records: list[dict[str, Any]]) -> None:
    """``metrics.json``: one record per epoch (accuracies as fractions in [0, 1], times in s)."""
    write_json(run_dir / METRICS_NAME, records, indent=1)


def plot_metrics(run_dir: Path, records: list[dict[str, Any]]) -> None:
    """``metrics.png``: training loss (left) and accuracies (right) against the epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [record["epoch"] for record in records]
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(9, 3.5))
    loss_axes.plot(epochs, [record["train_loss"] for record in records], marker=".")
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("training loss")
    for key, label in (("train_accuracy", "train"), ("validation_accuracy", "validation"), ("test_accuracy", "test")):
        if records and key in records[0]:
            accuracy_axes.plot(epochs, [100.0 * record[key] for record in records], marker=".", label=label)
    accuracy_axes.set_xlabel("epoch")
    accuracy_axes.set_ylabel("accuracy (%)")
    accuracy_axes.legend()
    figure.tight_layout()
    try:
        with atomic_path(run_dir / PLOT_NAME, suffix=".png") as temporary:
            figure.savefig(temporary, dpi=100)
    finally:
        plt.close(figure)
