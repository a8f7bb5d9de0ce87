"""Your own data: .npz rasters and event lists (task arrays), tonic datasets (task tonic), and
Python samples (neurodelay.train.train_on); every bad input names its field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from neurodelay import ir
from neurodelay.cli import main
from neurodelay.data.arrays import ArrayParameters, load_arrays
from neurodelay.errors import ValidationError
from neurodelay.train import config_from_dict, train_on
from published_formats import write_speech_file

DT_MS = 1.0
STEPS = 20


def two_class_raster(seed: int, n_samples: int, n_channels: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Class k: channel k fires at steps 1..5, the other channels at random (rate 0.05)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n_samples)
    spikes = rng.random((n_samples, STEPS, n_channels)) < 0.05
    for index, label in enumerate(labels):
        spikes[index, 1:6, label] = True
    return spikes, labels


def config(data: dict, epochs: int = 4) -> dict:
    return {
        "name": "own",
        "seed": 0,
        "epochs": epochs,
        "batch_size": 8,
        "eval_batch_size": 64,
        "data": data,
        "network": {
            "dt_ms": DT_MS,
            "hidden": [
                {
                    "name": "hidden",
                    "size": 8,
                    "tau_m_ms": 10.0,
                    "tau_syn_ms": 5.0,
                    "input": {
                        "weights": {"kind": "normal", "mean": 1.0, "std": 0.5},
                        "delays": {"kind": "uniform", "low": 0.0, "high": 3.0},
                        "max_delay_steps": 5,
                    },
                }
            ],
            "readout": {
                "tau_m_ms": 10.0,
                "tau_syn_ms": 5.0,
                "input": {
                    "weights": {"kind": "normal", "mean": 0.0, "std": 1.0},
                    "max_delay_steps": 0,
                    "learn_delays": False,
                },
            },
        },
        "optimiser": {"weight_lr": 0.02, "delay_lr": 0.1},
        "loss": {"name": "sum_ce"},
    }


def train_cli(tmp_path: Path, data: dict, capsys) -> list[dict]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config(data)))
    assert main(["--quiet", "train", str(path), "--out", str(tmp_path / "run")]) == 0, capsys.readouterr().err
    return json.loads((tmp_path / "run" / "metrics.json").read_text())


def test_npz_rasters_train_through_the_cli(tmp_path, capsys):
    for split, seed, size in (("train", 0, 64), ("test", 1, 32)):
        spikes, labels = two_class_raster(seed, size)
        np.savez(tmp_path / f"{split}.npz", spikes=spikes.astype(np.uint8), labels=labels, dt_ms=DT_MS)
    records = train_cli(
        tmp_path, {"task": "arrays", "train": str(tmp_path / "train.npz"), "test": str(tmp_path / "test.npz")}, capsys
    )
    assert len(records) == 4 and records[-1]["test_accuracy"] >= 0.9
    network = ir.load(tmp_path / "run" / "network.ndnet")
    assert network.population("input").size == 4


def event_rows(spikes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(sample, time ms, channel) rows of a raster, each spike at a random time within its step,
    plus a second event in the same step for every fifth spike (merged by binning)."""
    sample, step, channel = np.nonzero(spikes)
    times = step + rng.uniform(0.0, 0.99, step.size)
    rows = np.stack([sample, times, channel], 1)
    return np.concatenate([rows, rows[::5] + [0.0, 0.001, 0.0]])


def test_npz_events_are_binned_with_merges_counted(tmp_path, capsys):
    rng = np.random.default_rng(5)
    merged = {}
    for split, seed, size in (("train", 2, 64), ("test", 3, 32)):
        spikes, labels = two_class_raster(seed, size)
        rows = event_rows(spikes, rng)
        merged[split] = len(rows) - int(spikes.sum())
        np.savez(tmp_path / f"{split}.npz", events=rows, labels=labels)
    splits = load_arrays(
        ArrayParameters(str(tmp_path / "train.npz"), str(tmp_path / "test.npz"), max_duration_ms=STEPS * DT_MS), DT_MS
    )
    assert splits.train.inputs.shape == (64, STEPS, 4)
    assert splits.train.metadata["binning_report"]["merged"] == merged["train"]
    assert np.array_equal(splits.train.inputs, two_class_raster(2, 64)[0])
    records = train_cli(
        tmp_path,
        {
            "task": "arrays",
            "train": str(tmp_path / "train.npz"),
            "test": str(tmp_path / "test.npz"),
            "max_duration_ms": STEPS * DT_MS,
        },
        capsys,
    )
    assert records[-1]["test_accuracy"] >= 0.9
    provenance = ir.load(tmp_path / "run" / "network.ndnet").provenance["training"]["data"]
    assert provenance["test"]["binning_report"]["merged"] == merged["test"]


def structured_events(spikes: np.ndarray, sample: int) -> np.ndarray:
    """A tonic-style event array of one sample: fields t (us), x, p (sensor_size (2, 1, 2))."""
    step, channel = np.nonzero(spikes[sample])
    events = np.zeros(step.size, dtype=[("t", np.int64), ("x", np.int64), ("p", np.int64)])
    events["t"], events["x"], events["p"] = step * 1000 + 250, channel % 2, channel // 2
    return events


class TinyEvents:
    """A tonic-style dataset class (module:Class): ``(events, target)`` items and a sensor_size."""

    sensor_size = (2, 1, 2)

    def __init__(self, save_to: str, train: bool = True) -> None:
        self.spikes, self.labels = two_class_raster(6 if train else 7, 48 if train else 24)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return structured_events(self.spikes, index), self.labels[index]


def test_tonic_style_dataset_class_trains_through_the_cli(tmp_path, capsys):
    records = train_cli(
        tmp_path,
        {
            "task": "tonic",
            "dataset": "test_data_own:TinyEvents",
            "root": str(tmp_path),
            "max_duration_ms": STEPS * DT_MS,
        },
        capsys,
    )
    assert records[-1]["test_accuracy"] >= 0.9
    data = ir.load(tmp_path / "run" / "network.ndnet").provenance["training"]["data"]
    assert data["train"]["binning_report"]["spikes"] == int(two_class_raster(6, 48)[0].sum())


class OddEvents(TinyEvents):
    """TinyEvents with one thing wrong, chosen by the subclass (each was a silent truncation or an
    internal error before)."""

    def __init__(self, save_to: str, train: bool = True) -> None:
        super().__init__(save_to, train)

    def __getitem__(self, index: int):
        events, label = super().__getitem__(index)
        return self.odd(events, label)

    def odd(self, events, label):
        return events, label


class FractionalTarget(OddEvents):
    def odd(self, events, label):
        return events, label + 0.5  # was int(): class label


class StringTarget(OddEvents):
    def odd(self, events, label):
        return events, "cat"


class FractionalX(OddEvents):
    def odd(self, events, label):
        moved = np.zeros(events.size, dtype=[("t", np.int64), ("x", np.float64), ("p", np.int64)])
        moved["t"], moved["x"], moved["p"] = events["t"], events["x"] + 0.25, events["p"]
        return moved, label  # x 1.25 was truncated to channel 1


class NoPair(OddEvents):
    def odd(self, events, label):
        return events


class BoolTimes(OddEvents):
    def odd(self, events, label):
        return np.zeros(events.size, dtype=[("t", bool), ("x", np.int64)]), label


class FourAxes(TinyEvents):
    sensor_size = (2, 1, 2, 3)  # the fourth axis was ignored, its extent counted in the inputs


class FractionalSensor(TinyEvents):
    sensor_size = (2.5, 1, 2)


class NoSamples(TinyEvents):
    def __len__(self) -> int:
        return 0


class BrokenItems(TinyEvents):
    def __getitem__(self, index: int):
        raise IndexError("file vanished")


@pytest.mark.parametrize(
    "name, field, fragment",
    [
        ("FractionalTarget", "data.dataset[0].target", "got 0.5"),
        ("StringTarget", "data.dataset[0].target", "got 'cat'"),
        ("FractionalX", "data.dataset[0].events.x", "not whole numbers"),
        ("NoPair", "data.dataset[0]", "an (events, target) pair"),
        ("BoolTimes", "data.dataset[0].events.t", "dtype bool"),
        ("FourAxes", "data.dataset", "1 to 3 integer extents"),
        ("FractionalSensor", "data.dataset", "1 to 3 integer extents"),
        ("NoSamples", "data.dataset", "0 samples"),
        ("BrokenItems", "data.dataset[0]", "IndexError: file vanished"),
    ],
)
def test_odd_tonic_style_classes_are_refused_naming_the_field(tmp_path, name, field, fragment):
    from neurodelay.data.tonic_datasets import TonicParameters, load_tonic

    parameters = TonicParameters(f"test_data_own:{name}", str(tmp_path), max_duration_ms=STEPS * DT_MS)
    with pytest.raises(ValidationError) as raised:
        load_tonic(parameters, DT_MS)
    assert raised.value.field == field and fragment in str(raised.value), str(raised.value)


def test_real_tonic_shd_class_on_generated_files(tmp_path, capsys):
    tonic = pytest.importorskip("tonic", reason="the tonic extra is not installed")
    folder = tmp_path / "SHD"  # tonic looks in save_to/<class name>
    folder.mkdir()
    rng = np.random.default_rng(8)
    for split, size in (("train", 40), ("test", 20)):
        labels = rng.integers(0, 2, size)
        times = [np.sort(rng.uniform(0, 0.02, 6)) for _ in labels]
        units = [np.where(rng.random(6) < 0.8, label * 3, rng.integers(0, 700, 6)) for label in labels]
        write_speech_file(folder / f"shd_{split}.h5", times, units, labels, speakers=np.zeros(size))
        (folder / f"shd_{split}.h5.zip").write_bytes(b"")  # tonic checks that its download is present
    assert len(tonic.datasets.SHD(save_to=str(tmp_path), train=True)) == 40
    records = train_cli(
        tmp_path, {"task": "tonic", "dataset": "SHD", "root": str(tmp_path), "max_duration_ms": 25.0}, capsys
    )
    assert len(records) == 4
    network = ir.load(tmp_path / "run" / "network.ndnet")
    assert network.population("input").size == 700


def test_python_samples_train_from_a_torch_dataset(tmp_path):
    spikes, labels = two_class_raster(9, 48)

    class Samples(torch.utils.data.Dataset):
        def __len__(self):
            return len(labels)

        def __getitem__(self, index):
            return torch.from_numpy(spikes[index].astype(np.float32)), torch.tensor(labels[index])

    test_spikes, test_labels = two_class_raster(10, 24)
    test = [(test_spikes[k, : STEPS - 2 * (k % 2)], int(test_labels[k])) for k in range(24)]  # ragged: padded
    document = config({"task": "samples"})
    del document["data"]
    records = train_on(Samples(), test, document, tmp_path / "run")
    assert records[-1]["test_accuracy"] >= 0.9
    data = ir.load(tmp_path / "run" / "network.ndnet").provenance["training"]["data"]
    assert data["test"]["padded_samples"] == 12


@pytest.mark.parametrize(
    "arrays, field, fragment",
    [
        ({"spikes": np.zeros((4, 5)), "labels": np.zeros(4, int)}, "spikes", "[samples, steps, channels]"),
        ({"spikes": np.full((4, 5, 2), 2), "labels": np.zeros(4, int)}, "spikes", "0 or 1"),
        ({"spikes": np.zeros((4, 5, 2), "U1"), "labels": np.zeros(4, int)}, "spikes", "bool"),
        ({"spikes": np.zeros((4, 5, 2)), "labels": np.zeros(3, int)}, "labels", "[4]"),
        ({"spikes": np.zeros((4, 5, 2)), "labels": np.full(4, 0.5)}, "labels", "integer"),
        ({"spikes": np.zeros((4, 5, 2)), "labels": np.array([0, 1, 2, 9])}, "labels", "[0, 2]"),
        ({"spikes": np.zeros((4, 5, 2)), "labels": np.array([0, -1, 0, 0])}, "labels", ">= 0"),
        ({"spikes": np.zeros((4, 5, 2)), "labels": np.zeros(4, int), "dt_ms": 0.5}, "dt_ms", "dt_ms = 1.0"),
        # a dt_ms that is no single number, and rasters without a step or a channel: internal errors before
        ({"spikes": np.zeros((4, 5, 2)), "labels": np.zeros(4, int), "dt_ms": [1.0, 1.0]}, "dt_ms", "one number"),
        ({"spikes": np.zeros((4, 5, 2)), "labels": np.zeros(4, int), "dt_ms": "1.0"}, "dt_ms", "one number"),
        ({"spikes": np.zeros((4, 5, 2)), "labels": np.zeros(4, int), "dt_ms": 1 + 0j}, "dt_ms", "one number"),
        ({"spikes": np.zeros((4, 0, 2)), "labels": np.zeros(4, int)}, "spikes", ">= 1 step and channel"),
        ({"spikes": np.zeros((4, 5, 0)), "labels": np.zeros(4, int)}, "spikes", ">= 1 step and channel"),
        ({"spikes": np.zeros((4, 5, 2))}, "(arrays)", "labels and exactly one"),
        ({"events": np.zeros((4, 2)), "labels": np.zeros(4, int)}, "events", "[n_events, 3]"),
        ({"events": np.array([[0, -1.0, 0]]), "labels": np.zeros(1, int)}, "events.time", ">= 0"),
        ({"events": np.array([[3, 1.0, 0]]), "labels": np.zeros(1, int)}, "events.sample", "[0, 0]"),
        ({"events": np.array([[0, 1.0, 5]]), "labels": np.zeros(1, int)}, "events.channel", "[0, 1]"),
        ({"events": np.array([[0, 1.0, 0.5]]), "labels": np.zeros(1, int)}, "events.channel", "integer"),
    ],
)
def test_bad_arrays_name_file_and_field(tmp_path, arrays, field, fragment):
    np.savez(tmp_path / "bad.npz", **arrays)
    np.savez(tmp_path / "good.npz", spikes=np.zeros((2, 5, 2), bool), labels=np.array([0, 1]))
    with pytest.raises(ValidationError) as raised:
        load_arrays(
            ArrayParameters(str(tmp_path / "good.npz"), str(tmp_path / "bad.npz"), n_channels=2, n_classes=3), DT_MS
        )
    assert raised.value.field == field and fragment in str(raised.value)
    assert raised.value.file.endswith("bad.npz")


@pytest.mark.parametrize(
    "arrays, field, fragment",
    [
        ({"spikes": np.zeros((0, 5, 2)), "labels": np.zeros(0, int)}, "labels", "at least 1 sample"),
        ({"events": np.zeros((0, 3)), "labels": np.zeros(0, int)}, "labels", "at least 1 sample"),
        ({"spikes": np.zeros((2, 5, 2)), "labels": np.array([0, 10**15])}, "labels", "[0, 9999999]"),
        ({"events": np.array([[0, 1.0, 10**12]]), "labels": np.zeros(1, int)}, "events.channel", "[0, 9999999]"),
        ({"events": np.array([[0, 1e12, 0]]), "labels": np.zeros(1, int)}, "events.time", "data.max_duration_ms"),
        ({"events": np.array([[0, 1e307, 0]]), "labels": np.zeros(1, int)}, "events.time", "overflows"),
        ({"events": np.array([[0, 1e6, 1]]), "labels": np.zeros(10**5, int)}, "events", "would need about"),
    ],
)
def test_sizes_the_arrays_imply_are_bounded_before_allocating(tmp_path, monkeypatch, arrays, field, fragment):
    """Channel, class and step counts come from the data when the config leaves them out."""
    monkeypatch.setenv("NEURODELAY_MEMORY_LIMIT_GB", "0.5")
    np.savez(tmp_path / "bad.npz", **arrays)
    np.savez(tmp_path / "good.npz", spikes=np.zeros((2, 5, 2), bool), labels=np.array([0, 1]))
    unit = "s" if fragment == "overflows" else "ms"
    with pytest.raises(ValidationError) as raised:
        load_arrays(ArrayParameters(str(tmp_path / "good.npz"), str(tmp_path / "bad.npz"), time_unit=unit), DT_MS)
    assert raised.value.field == field and fragment in str(raised.value)
    assert raised.value.file.endswith("bad.npz")


@pytest.mark.parametrize("dt_ms", [0.1, 0.7, 1 / 3])
def test_events_given_in_steps_land_in_those_steps(tmp_path, dt_ms):
    """time_unit steps: the times went to ms and were binned by floor(t / dt), and k * dt / dt falls
    below k for about 5 % of the steps (step 43 on 0.1 ms steps was binned into step 42)."""
    steps = np.arange(200)
    events = np.stack([np.zeros(200), steps, steps % 2], axis=1)
    np.savez(tmp_path / "e.npz", events=events, labels=np.array([0]))
    path = str(tmp_path / "e.npz")
    splits = load_arrays(ArrayParameters(path, path, time_unit="steps", max_duration_ms=200 * dt_ms), dt_ms)
    step, channel = np.nonzero(splits.train.inputs[0])
    assert np.array_equal(step, steps) and np.array_equal(channel, steps % 2)


def test_events_without_a_single_event_need_n_channels(tmp_path):
    np.savez(tmp_path / "silent.npz", events=np.zeros((0, 3)), labels=np.array([0, 1]))
    silent = str(tmp_path / "silent.npz")
    with pytest.raises(ValidationError) as raised:
        load_arrays(ArrayParameters(silent, silent), DT_MS)
    assert raised.value.field == "data.n_channels"
    assert load_arrays(ArrayParameters(silent, silent, n_channels=3, max_duration_ms=4.0), DT_MS).train.n_inputs == 3


def test_pickled_arrays_and_missing_files_are_refused(tmp_path, capsys):
    np.savez(tmp_path / "objects.npz", spikes=np.array([None, 1], dtype=object), labels=np.zeros(2, int))
    with pytest.raises(ValidationError, match="without pickled objects"):
        load_arrays(ArrayParameters(str(tmp_path / "objects.npz"), str(tmp_path / "objects.npz")), DT_MS)
    with pytest.raises(ValidationError) as raised:
        load_arrays(ArrayParameters(str(tmp_path / "none.npz"), str(tmp_path / "none.npz")), DT_MS)
    assert raised.value.field == "data.train"


def test_bad_python_samples_name_the_sample(tmp_path):
    document = config({"task": "samples"})
    with pytest.raises(ValidationError, match=r"samples/train\[1\].spikes.*0 or 1"):
        train_on([(np.zeros((5, 2)), 0), (np.full((5, 2), 3), 1)], [(np.zeros((5, 2)), 0)], document, tmp_path / "a")
    with pytest.raises(ValidationError, match=r"samples/test\[0\].spikes: 3 channels"):
        train_on([(np.zeros((5, 2)), 0)], [(np.zeros((5, 3)), 0)], document, tmp_path / "b")
    with pytest.raises(ValidationError, match=r"samples/train\[0\]: got int"):
        train_on([1, 2], [(np.zeros((5, 2)), 0)], document, tmp_path / "c")


Z = np.zeros((5, 2))


@pytest.mark.parametrize(
    "train, n_classes, field, fragment",
    [
        # labels that int() truncated (2.5 -> 2) or that ended in a raw ValueError / TypeError
        ([(Z, 2.5)], None, "samples/train[0].label", "got 2.5"),
        ([(Z, torch.tensor(1.7))], None, "samples/train[0].label", "1.7"),
        ([(Z, float("nan"))], None, "samples/train[0].label", "got nan"),
        ([(Z, "a")], None, "samples/train[0].label", "got 'a'"),
        ([(Z, None)], None, "samples/train[0].label", "got None"),
        ([(Z, [0, 1])], None, "samples/train[0].label", "got [0, 1]"),
        ([(Z, 10**30)], None, "samples/train[0].label", "an integer class index"),
        ([(Z, 2**40)], None, "samples/train.labels", "[0, 9999999]"),
        ([([[0, 1], [1]], 0)], None, "samples/train[0].spikes", "rows of different lengths"),
        (None, None, "samples/train", "an iterable of (spikes, label) pairs"),
        ([(Z, 0)], 0, "n_classes", "[1, 10000000]"),  # 0 was taken as "not given"
        ([(Z, 0)], -3, "n_classes", "[1, 10000000]"),
        ([(np.zeros((0, 2)), 0)], None, "samples/train.inputs", "at least 1 step"),
        ([(np.zeros((5, 0)), 0)], None, "samples/train.inputs", "at least 1 step and 1 channel"),
    ],
)
def test_odd_python_samples_are_refused_naming_the_field(tmp_path, train, n_classes, field, fragment):
    document = config({"task": "samples"})
    with pytest.raises(ValidationError) as raised:
        train_on(train, [(Z, 0)], document, tmp_path / "run", n_classes=n_classes)
    assert raised.value.field == field and fragment in str(raised.value), str(raised.value)
    assert not (tmp_path / "run").exists()


def test_train_on_refuses_a_config_of_another_type_and_an_out_that_is_a_file(tmp_path):
    (tmp_path / "a_file").write_text("x")
    document = config({"task": "samples"})
    with pytest.raises(ValidationError, match=r"config: got int"):  # AttributeError before
        train_on([(Z, 0)], [(Z, 0)], 5, tmp_path / "run")
    with pytest.raises(ValidationError, match=r"out: .*a_file is a file"):  # FileExistsError before
        train_on([(Z, 0)], [(Z, 0)], document, tmp_path / "a_file")
    with pytest.raises(ValidationError, match=r"out: .*a_file is a file, not a folder"):
        train_on([(Z, 0)], [(Z, 0)], document, tmp_path / "a_file" / "run")


def test_boolean_and_whole_float_labels_are_class_indices(tmp_path):
    document = config({"task": "samples"}, epochs=1)
    train = [(np.ones((5, 2)), True), (Z, False), (Z, np.float32(1.0)), (Z, torch.tensor(0))]
    records = train_on(train, [(Z, 1)], document, tmp_path / "run")
    assert len(records) == 1
    data = ir.load(tmp_path / "run" / "network.ndnet")
    assert data.population("readout").size == 2


def test_the_samples_task_is_refused_from_the_command_line(tmp_path, capsys):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config({"task": "samples"})))
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 1
    assert "train_on" in capsys.readouterr().err


def test_tonic_n_classes_is_bounded_like_a_population():
    with pytest.raises(ValidationError) as raised:
        config_from_dict(config({"task": "tonic", "dataset": "SHD", "root": ".", "n_classes": 10**12}))
    assert raised.value.field == "data.n_classes" and "[1, 10000000]" in str(raised.value)
