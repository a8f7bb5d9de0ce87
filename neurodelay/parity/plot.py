"""Raster and divergence plot of one network's parity run (matplotlib, written as PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from ..atomic import atomic_path  # noqa: E402
from ..recording import Recording  # noqa: E402
from .compare import Divergence  # noqa: E402


def plot_divergence(
    reference: Recording,
    candidate: Recording,
    divergences: list[Divergence],
    path: str | Path,
    title: str = "",
    batch: int = 0,
) -> Path:
    """Per population: both rasters (reference dots, candidate crosses) and the per-step count of
    differing entries of every compared state; the first divergence is marked in red."""
    names = [name for name in reference.populations if reference.populations[name].states]
    figure, axes = plt.subplots(len(names), 2, figsize=(12, 2.6 * max(1, len(names))), squeeze=False)
    first = divergences[0] if divergences else None
    for row, name in enumerate(names):
        ref, cand = reference.populations[name], candidate.populations.get(name)
        raster = axes[row][0]
        steps, neurons = np.nonzero(ref.spikes[batch])
        raster.scatter(
            steps, neurons, s=10, marker="o", facecolors="none", edgecolors="tab:blue", label=reference.executor
        )
        if cand is not None:
            steps, neurons = np.nonzero(cand.spikes[batch])
            raster.scatter(steps, neurons, s=12, marker="x", color="tab:orange", label=candidate.executor)
        raster.set_ylabel(f"{name}\nneuron")
        raster.set_xlim(-1, reference.steps)
        counts = axes[row][1]
        for state in ref.states:
            if cand is not None and state in cand.states and cand.states[state].shape == ref.states[state].shape:
                differing = (ref.states[state][batch] != cand.states[state][batch]).sum(axis=1)
                counts.plot(differing, drawstyle="steps-mid", label=f"{state} differs")
        if cand is not None and cand.spikes.shape == ref.spikes.shape:
            counts.plot(
                (ref.spikes[batch] != cand.spikes[batch]).sum(axis=1), drawstyle="steps-mid", label="spikes differ"
            )
        counts.set_ylabel("neurons")
        counts.set_xlim(-1, reference.steps)
        if first is not None and first.population == name:
            for axis in (raster, counts):
                axis.axvline(first.step, color="red", linestyle="--", linewidth=1)
        if row == 0:
            raster.legend(loc="upper right", fontsize=7)
            counts.legend(loc="upper right", fontsize=7)
    axes[-1][0].set_xlabel("step")
    axes[-1][1].set_xlabel("step")
    if first is not None:
        title += (
            f"\nfirst divergence: step {first.step}, {first.population}.{first.quantity}[{first.neuron}] "
            f"reference {first.reference:.0f} vs {first.candidate:.0f}"
        )
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    path = Path(path)
    with atomic_path(path, suffix=".png") as temporary:
        figure.savefig(temporary, dpi=100)
    plt.close(figure)
    return path
