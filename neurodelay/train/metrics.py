"""Per-epoch metrics of a run: ``metrics.json`` (a list of records) and the plot ``metrics.png``."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

METRICS_NAME = "metrics.json"
PLOT_NAME = "metrics.png"


def usual_file_mode(path: str | Path) -> None:
    """Give a ``mkstemp`` file (created 0600) the mode a plain ``open`` would: 0666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def write_atomically(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        usual_file_mode(temporary)
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_metrics(run_dir: Path, records: list[dict[str, Any]]) -> None:
    """``metrics.json``: one record per epoch (accuracies as fractions in [0, 1], times in s)."""
    write_atomically(run_dir / METRICS_NAME, (json.dumps(records, indent=1) + "\n").encode())


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
    for key, label in (("train_accuracy", "train"), ("validation_accuracy", "validation"),
                       ("test_accuracy", "test")):
        if records and key in records[0]:
            accuracy_axes.plot(epochs, [100.0 * record[key] for record in records], marker=".", label=label)
    accuracy_axes.set_xlabel("epoch")
    accuracy_axes.set_ylabel("accuracy (%)")
    accuracy_axes.legend()
    figure.tight_layout()
    handle, temporary = tempfile.mkstemp(dir=run_dir, prefix=f".{PLOT_NAME}.", suffix=".png")
    os.close(handle)
    try:
        figure.savefig(temporary, dpi=100)
        usual_file_mode(temporary)
        os.replace(temporary, run_dir / PLOT_NAME)
    finally:
        plt.close(figure)
        if os.path.exists(temporary):
            os.unlink(temporary)
