"""Accuracy of a network on a task's split, measured on the reference simulator (float or a
target's bit-accurate integer mode), and the task data a trained network was trained on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data import Dataset
from ..data.tasks import TASKS, load_task
from ..errors import ValidationError
from ..ir import LIF, Network
from ..refsim import simulate
from ..train.schema import build


@dataclass
class Evaluation:
    """accuracy: fraction correct; spikes_per_neuron: ``{LIF population: mean spikes per neuron and sample}``."""

    accuracy: float
    spikes_per_neuron: dict[str, float]


def evaluate(
    network: Network, dataset: Dataset, *, mode: str = "float", loss: str = "sum_ce", batch_size: int = 500
) -> Evaluation:
    """Classify ``dataset`` with ``network`` simulated by the reference simulator in ``mode``.

    The class score is the engine's readout of the loss (``losses.READOUTS[loss]``) applied to the
    last population's voltage in network units (the recording's ``v`` times its scale).
    """
    from ..engine.losses import READOUTS

    if loss not in READOUTS:
        raise ValidationError("loss", f"unknown loss {loss!r}", ", ".join(READOUTS))
    readout = network.neurons()[-1].name
    source = network.sources()[0].name
    hidden = [p.name for p in network.neurons() if isinstance(p, LIF) and not p.metadata.get("role")]
    correct, spikes = 0, {name: 0.0 for name in hidden}
    for start in range(0, len(dataset), batch_size):
        inputs = dataset.inputs[start : start + batch_size]
        recording = simulate(network, {source: inputs}, mode=mode)
        population = recording.populations[readout]
        trace = np.asarray(population.states["v"], np.float64) * np.asarray(population.state_scales["v"])
        scores = READOUTS[loss](torch.from_numpy(trace)).numpy()
        correct += int((scores.argmax(1) == dataset.labels[start : start + batch_size]).sum())
        for name in hidden:
            spikes[name] += float(recording.populations[name].spikes.sum())
    return Evaluation(
        correct / len(dataset),
        {name: total / (len(dataset) * network.population(name).size) for name, total in spikes.items()},
    )


def study_data(
    data: dict[str, Any], dt_ms: float, trained_with: dict[str, Any] | None = None
) -> tuple[Dataset, Dataset]:
    """(training split for QAT, evaluation split) of the task, limited as the config asks.

    trained_with: the training config's data section; its task and parameters apply unless ``data``
    gives them.
    """
    data = {**(trained_with or {}), **data}
    if data.get("task") not in TASKS:
        raise ValidationError(
            "data.task",
            f"{data.get('task')!r} (not in the config, nor in the network's training provenance)",
            ", ".join(TASKS),
        )
    spec = TASKS[data["task"]]
    options = {k: v for k, v in data.items() if k not in ("task", "split", "limit", "train_limit")}
    # as a training config's data section is read: typed fields, and check() where a task has one
    # (task samples has none: calling it was an internal AttributeError)
    parameters = build(spec.parameters, options, "data")
    splits = load_task(data["task"], parameters, dt_ms)
    split = data.get("split", "test")
    evaluation = getattr(splits, split, None)
    if evaluation is None:
        raise ValidationError("data.split", f"{split!r}", "train, validation, test")
    return splits.train.limited(data.get("train_limit")), evaluation.limited(data.get("limit"))
