"""neurodelay plot and neurodelay.plots: rasters, delay histograms, membrane traces, curves."""

from __future__ import annotations

import numpy as np
import pytest

from neurodelay import ir, plots
from neurodelay.cli import main
from neurodelay.refsim import simulate
from neurodelay.train import RunOptions, Trainer, load_config

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    assert main(["--quiet", "train", "examples/sequence_detection.yaml", "--out", str(run), "--limit", "8"]) == 0
    return run


def recording_of_example(batch: int = 2):
    network = ir.load("examples/feedforward.ndnet")
    inputs = np.random.default_rng(0).random((batch, 60, 20)) < 0.1
    return network, simulate(network, inputs, mode="float")


def test_plot_a_run_writes_every_figure(trained_run, capsys):
    assert main(["plot", str(trained_run)]) == 0
    written = capsys.readouterr().out.split()
    assert [name.rsplit("/", 1)[1] for name in written] == ["curves.png", "delays.png", "raster.png", "membrane.png"]
    for name in written:
        with open(name, "rb") as stream:
            assert stream.read(8) == PNG_MAGIC


def test_delay_histograms_show_the_rebuilt_initial_delays(tmp_path):
    config = load_config("examples/sequence_detection.yaml")
    trainer = Trainer(config, RunOptions(tmp_path / "run"))
    try:
        before_training = trainer.trained_network()  # the initial parameters, with the run's provenance
    finally:
        trainer.close()
    rebuilt = plots.initial_network(before_training)
    for projection in before_training.projections:
        initial = rebuilt.projection(projection.name)
        assert np.allclose(initial.delays_steps, projection.delays_steps, atol=1e-6)
        assert np.allclose(initial.weights, projection.weights, atol=1e-6)
    figure = plots.delay_histogram_figure(before_training, rebuilt)
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert labels == ["before", "after"]
    heights = sum(patch.get_height() for patch in figure.axes[0].patches)
    synapses = int(before_training.projections[0].existing().sum())
    assert heights == 2 * synapses  # both histograms count every synapse once


def test_raster_has_one_point_per_spike():
    network, recording = recording_of_example()
    figure = plots.raster_figure(recording, sample=1)
    for axis, name in zip(figure.axes, recording.populations):
        assert len(axis.collections[0].get_offsets()) == int(recording.spikes(name)[1].sum())


def test_plot_a_recording_with_chosen_neurons(tmp_path, capsys):
    _, recording = recording_of_example()
    recording.save(tmp_path / "rec.npz")
    assert (
        main(
            [
                "plot",
                str(tmp_path / "rec.npz"),
                "--neurons",
                "hidden:0,3",
                "readout:1",
                "--format",
                "svg",
                "--sample",
                "1",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.split() == [str(tmp_path / "raster.svg"), str(tmp_path / "membrane.svg")]
    figure = plots.membrane_figure(recording, {"hidden": [0, 3], "readout": [1]}, sample=1)
    traces = figure.axes[0].get_lines()[0].get_ydata()
    assert np.array_equal(traces, recording.populations["hidden"].state_as_float("v")[1, :, 0])


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--neurons", "hidden:99"], "--neurons: hidden:99"),
        (["--neurons", "input:0"], "no recorded membrane voltage"),
        (["--neurons", "hidden:x"], "integer indices"),
        (["--sample", "7"], "--sample: got 7"),
    ],
)
def test_bad_plot_requests_are_one_line_errors(tmp_path, capsys, arguments, message):
    _, recording = recording_of_example()
    recording.save(tmp_path / "rec.npz")
    assert main(["plot", str(tmp_path / "rec.npz"), *arguments]) == 1
    assert message in capsys.readouterr().err


def test_a_run_folder_whose_plots_is_a_file_is_refused_before_any_figure(tmp_path, capsys):
    """The default output folder RUN/plots blocked by a file: one line naming it (an internal
    FileExistsError after the figures were drawn before)."""
    (tmp_path / "plots").write_text("not a folder")
    assert main(["plot", str(tmp_path)]) == 1
    message = capsys.readouterr().err.rstrip("\n")
    assert "\n" not in message and f"(source)/plots: {tmp_path / 'plots'} is a file" in message, message


def test_metrics_figure_plots_every_epoch(trained_run):
    import json

    records = json.loads((trained_run / "metrics.json").read_text())
    figure = plots.metrics_figure(records)
    assert list(figure.axes[0].get_lines()[0].get_ydata()) == [r["train_loss"] for r in records]
