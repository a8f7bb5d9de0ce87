"""Figures of a training run or a recording (matplotlib, Agg backend): spike rasters per population,
delay histograms before and after training, membrane traces of chosen neurons, accuracy and loss
curves. Each ``*_figure`` function returns a ``matplotlib.figure.Figure`` for Python callers;
:func:`save_figure` writes one atomically (format from the suffix: ``.png``, ``.pdf``, ``.svg``);
:func:`plot_run` and :func:`plot_recording` are what ``neurodelay plot`` draws.

Units: time axes in ms (step index times ``dt_ms``), delays in timesteps, voltages in the
network's voltage unit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from . import ir  # noqa: E402
from .atomic import atomic_path  # noqa: E402
from .bounded_json import read_json_file  # noqa: E402
from .errors import ValidationError  # noqa: E402
from .recording import Recording  # noqa: E402


def save_figure(figure: Figure, path: str | Path, *, dpi: int = 110) -> Path:
    """Write ``figure`` to ``path`` atomically and close it."""
    path = Path(path)
    try:
        with atomic_path(path, suffix=path.suffix or ".png") as temporary:
            figure.savefig(temporary, dpi=dpi)
    finally:
        plt.close(figure)
    return path


def raster_figure(recording: Recording, *, sample: int = 0, populations: Sequence[str] | None = None) -> Figure:
    """One raster per population of sample ``sample`` (spike sources included): neuron index
    against time in ms."""
    names = list(populations or recording.populations)
    _check_sample(recording, sample)
    figure, axes = plt.subplots(len(names), 1, figsize=(8, 1.2 + 1.3 * len(names)), sharex=True, squeeze=False)
    for row, name in enumerate(names):
        if name not in recording.populations:
            raise ValidationError("--populations", f"{name!r} is not recorded", ", ".join(recording.populations))
        spikes = recording.populations[name].spikes[sample]
        steps, neurons = np.nonzero(spikes)
        axis = axes[row][0]
        axis.scatter(steps * recording.dt_ms, neurons, s=14, marker="|", linewidths=1.2, color=f"C{row}")
        axis.set_ylabel(f"{name}\nneuron")
        axis.set_ylim(-0.5, spikes.shape[1] - 0.5)
        axis.set_title(f"{name}: {int(spikes.sum())} spikes", fontsize=9, loc="left")
    axes[-1][0].set_xlim(0, recording.steps * recording.dt_ms)
    axes[-1][0].set_xlabel("time (ms)")
    figure.suptitle(f"spike rasters ({recording.executor}, sample {sample})", fontsize=10)
    figure.tight_layout()
    return figure


def membrane_figure(
    recording: Recording,
    neurons: dict[str, Sequence[int]],
    *,
    sample: int = 0,
    thresholds: dict[str, Any] | None = None,
) -> Figure:
    """V against time (ms) of the chosen ``{population: [neuron, ...]}``, spikes marked; a dashed
    line at the threshold where ``thresholds`` gives one."""
    _check_sample(recording, sample)
    figure, axes = plt.subplots(len(neurons), 1, figsize=(8, 1.2 + 1.8 * len(neurons)), sharex=True, squeeze=False)
    time_ms = np.arange(recording.steps) * recording.dt_ms
    for row, (name, chosen) in enumerate(neurons.items()):
        population = recording.populations.get(name)
        if population is None or "v" not in population.states:
            raise ValidationError(
                "--neurons",
                f"population {name!r} has no recorded membrane voltage",
                ", ".join(n for n, p in recording.populations.items() if "v" in p.states),
            )
        voltage = population.state_as_float("v")[sample]
        axis = axes[row][0]
        for position, neuron in enumerate(chosen):
            if not 0 <= neuron < voltage.shape[1]:
                raise ValidationError("--neurons", f"{name}:{neuron}", f"neurons 0..{voltage.shape[1] - 1} of {name}")
            (line,) = axis.plot(time_ms, voltage[:, neuron], lw=1, label=f"{name}[{neuron}]")
            spike_steps = np.nonzero(population.spikes[sample, :, neuron])[0]
            axis.plot(spike_steps * recording.dt_ms, voltage[spike_steps, neuron], "v", color=line.get_color(), ms=4)
        threshold = (thresholds or {}).get(name)
        if threshold is not None and np.ndim(threshold) == 0:
            axis.axhline(float(threshold), ls="--", lw=0.8, color="grey")
        axis.set_ylabel("V")
        axis.legend(fontsize=7, loc="upper right")
    axes[-1][0].set_xlabel("time (ms)")
    figure.suptitle(
        f"membrane voltage after each step ({recording.executor}, sample {sample}; "
        "triangles: spikes, V shown after reset)",
        fontsize=9,
    )
    figure.tight_layout()
    return figure


def delay_histogram_figure(after: ir.Network, before: ir.Network | None = None) -> Figure:
    """Per projection that has delays: histogram of its synapses' delays (timesteps) after
    training, and before it when ``before`` is given."""
    projections = [p for p in after.projections if p.max_delay_steps > 0]
    if not projections:
        raise ValidationError(
            "network", "no projection has delays (max_delay_steps = 0 everywhere)", "a network with delays"
        )
    figure, axes = plt.subplots(1, len(projections), figsize=(4.2 * len(projections), 3.2), squeeze=False)
    for column, projection in enumerate(projections):
        axis = axes[0][column]
        bins = np.linspace(0, projection.max_delay_steps, min(40, 4 * projection.max_delay_steps) + 1)
        if before is not None:
            initial = before.projection(projection.name)
            axis.hist(initial.delays_steps[initial.existing()], bins=bins, alpha=0.5, color="grey", label="before")
        axis.hist(projection.delays_steps[projection.existing()], bins=bins, alpha=0.7, color="C0", label="after")
        axis.set_title(projection.name, fontsize=9)
        axis.set_xlabel("delay (steps)")
        axis.set_ylabel("synapses")
        axis.legend(fontsize=8)
    figure.suptitle(f"{after.name}: synaptic delays (dt = {after.dt_ms} ms)", fontsize=10)
    figure.tight_layout()
    return figure


def metrics_figure(records: Sequence[dict[str, Any]]) -> Figure:
    """Training loss and accuracies (%) against the epoch, from a run's ``metrics.json`` records."""
    if not records:
        raise ValidationError("metrics.json", "no epochs", "a run with at least one finished epoch")
    epochs = [record["epoch"] for record in records]
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(9, 3.4))
    loss_axis.plot(epochs, [record["train_loss"] for record in records], marker=".")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("training loss")
    for key, label in (("train_accuracy", "train"), ("validation_accuracy", "validation"), ("test_accuracy", "test")):
        if key in records[0]:
            accuracy_axis.plot(epochs, [100.0 * record[key] for record in records], marker=".", label=label)
    accuracy_axis.set_xlabel("epoch")
    accuracy_axis.set_ylabel("accuracy (%)")
    accuracy_axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def initial_network(trained: ir.Network) -> ir.Network | None:
    """The network a run started from, rebuilt from the config in ``trained``'s provenance with
    the trainer's seed derivation; None when the provenance holds no training config."""
    from .train.builder import build_network
    from .train.config import config_from_dict

    document = trained.training_config()
    if document is None:
        return None
    config = config_from_dict(document)
    readout = trained.population(config.network.readout.name)
    network_seed, _ = np.random.SeedSequence(config.seed).spawn(2)  # as neurodelay.train.trainer.Trainer
    return build_network(config.network, n_inputs=trained.sources()[0].size, n_classes=readout.size, seed=network_seed)


def default_neurons(recording: Recording, count: int = 3) -> dict[str, list[int]]:
    """The first ``count`` neurons of every population with a recorded V, most active first."""
    chosen = {}
    for name, population in recording.populations.items():
        if "v" in population.states:
            activity = population.spikes.sum(axis=(0, 1))
            chosen[name] = sorted(np.argsort(-activity, kind="stable")[:count].tolist())
    return chosen


def plot_recording(
    recording: Recording,
    out_dir: str | Path,
    *,
    sample: int = 0,
    neurons: dict[str, list[int]] | None = None,
    thresholds: dict[str, Any] | None = None,
    populations: Sequence[str] | None = None,
    suffix: str = ".png",
) -> list[Path]:
    """``raster`` (of ``populations``, default all) and ``membrane`` figures of one recording into
    ``out_dir``."""
    out_dir = Path(out_dir)
    written = [
        save_figure(raster_figure(recording, sample=sample, populations=populations), out_dir / f"raster{suffix}")
    ]
    chosen = neurons or default_neurons(recording)
    if chosen:
        written.append(
            save_figure(
                membrane_figure(recording, chosen, sample=sample, thresholds=thresholds), out_dir / f"membrane{suffix}"
            )
        )
    return written


def plot_run(
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    sample: int = 0,
    samples: int = 4,
    neurons: dict[str, list[int]] | None = None,
    suffix: str = ".png",
) -> list[Path]:
    """Every figure of a training run folder: ``curves`` (metrics.json), ``delays`` (before / after,
    the initial network rebuilt from the run's config), and ``raster`` / ``membrane`` of the trained
    network in refsim's float mode on the first ``samples`` test samples of the run's task."""
    from .data import load_task
    from .refsim import simulate
    from .train.config import config_from_dict

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    network_file = run_dir / "network.ndnet"
    if not network_file.is_file():
        raise ValidationError(
            "(run folder)", f"{network_file.name} not found", "a finished training run folder", file=run_dir
        )
    trained = ir.load(network_file)
    try:
        document = trained.training_config()  # a hand-edited record is refused here, naming the file
    except ValidationError as error:
        raise error.in_file(network_file) from None
    written = []
    metrics_file = run_dir / "metrics.json"
    if metrics_file.is_file():
        records = read_json_file(metrics_file)
        if not isinstance(records, list) or not all(
            isinstance(r, dict)
            and all(
                isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)
                for key in ("epoch", "train_loss")
            )
            for r in records
        ):
            raise ValidationError(
                "(records)",
                "not a list of epoch records with numeric epoch and train_loss",
                "a metrics.json written by neurodelay train",
                file=metrics_file,
            )
        written.append(save_figure(metrics_figure(records), out_dir / f"curves{suffix}"))
    if any(p.max_delay_steps > 0 for p in trained.projections):
        written.append(
            save_figure(delay_histogram_figure(trained, initial_network(trained)), out_dir / f"delays{suffix}")
        )
    if document is not None and document.get("data", {}).get("task") != "samples":
        config = config_from_dict(document)
        test = load_task(config.data.task, config.data.parameters, trained.dt_ms).test
        recording = simulate(trained, test.inputs[: max(samples, sample + 1)], mode="float")
        thresholds = {p.name: p.threshold for p in trained.neurons() if p.kind == "lif"}
        spiking = [p.name for p in trained.sources()] + list(thresholds)  # readouts never spike
        written += plot_recording(
            recording,
            out_dir,
            sample=sample,
            neurons=neurons,
            thresholds=thresholds,
            populations=spiking,
            suffix=suffix,
        )
    return written


def _check_sample(recording: Recording, sample: int) -> None:
    batch = next(iter(recording.populations.values())).spikes.shape[0]
    if not 0 <= sample < batch:
        raise ValidationError("--sample", f"got {sample}", f"0..{batch - 1} (samples in the recording)")
