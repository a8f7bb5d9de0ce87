"""SHD / SSC loaders on generated files in the published HDF5 layout (plain and gzipped)."""

from __future__ import annotations

import gzip
import os

import h5py
import numpy as np
import pytest

from neurodelay.data.cache import BinnedCache
from neurodelay.data.shd import SHDParameters, SSCParameters, load_shd, load_ssc
from neurodelay.errors import ValidationError
from published_formats import random_speech_split, write_speech_file


def hand_samples():
    """Three samples with hand-checked binning at dt = 2 ms, max duration 10 ms (5 steps)."""
    times_s = [
        [0.0, 0.0019, 0.002, 0.0055, 0.0099, 0.0100, 0.5],  # steps 0, 0, 1, 2, 4; 10 ms and 500 ms dropped
        [0.003, 0.003, 0.003],  # three events in one bin -> one spike
        [],  # empty sample
    ]
    units = [[5, 5, 5, 699, 0, 3, 3], [7, 7, 8], []]
    return times_s, units, [3, 19, 0], [1, 2, 1]


@pytest.mark.parametrize("gzipped", [False, True])
def test_binning_counts_labels_and_report(tmp_path, gzipped):
    times_s, units, labels, speakers = hand_samples()
    suffix = ".h5.gz" if gzipped else ".h5"
    write_speech_file(
        tmp_path / f"shd_train{suffix}", times_s, units, labels, speakers, gzipped=gzipped, times_dtype=np.float64
    )
    write_speech_file(
        tmp_path / f"shd_test{suffix}",
        times_s[:1],
        units[:1],
        labels[:1],
        speakers[:1],
        gzipped=gzipped,
        times_dtype=np.float64,
    )
    if gzipped:
        with open(tmp_path / "shd_train.h5.gz", "rb") as stream:
            assert stream.read(2) == b"\x1f\x8b"
    splits = load_shd(SHDParameters(root=str(tmp_path), max_duration_ms=10.0, cache=False), 2.0)
    train = splits.train
    assert splits.validation is None and len(train) == 3 and len(splits.test) == 1
    assert train.inputs.shape == (3, 5, 700) and train.inputs.dtype == np.bool_
    assert train.labels.tolist() == [3, 19, 0]
    expected = {(0, 0, 5), (0, 1, 5), (0, 2, 699), (0, 4, 0), (1, 1, 7), (1, 1, 8)}
    assert set(map(tuple, np.argwhere(train.inputs).tolist())) == expected
    report = train.metadata["binning_report"]
    # sample 0: 7 events, (0, 5) twice -> 1 merged, 10 ms and 500 ms dropped; sample 1: 3 events, 1 merged
    assert report["events"] == 10 and report["spikes"] == 6
    assert report["merged"] == 2 and report["dropped_late"] == 2 and report["samples_with_late_events"] == 1
    assert splits.test.inputs.shape == (1, 5, 700)


def test_float16_seconds_are_binned_by_their_stored_value(tmp_path):
    stored = np.float16(0.0345)  # 0.034515380859375 s -> 34.5 ms -> step 34 at 1 ms
    write_speech_file(tmp_path / "shd_train.h5", [[stored]], [[1]], [2])
    write_speech_file(tmp_path / "shd_test.h5", [[stored]], [[1]], [2])
    splits = load_shd(SHDParameters(root=str(tmp_path), cache=False), 1.0)
    assert np.argwhere(splits.train.inputs[0]).tolist() == [[int(float(stored) * 1000.0 // 1.0), 1]]
    assert splits.train.inputs.shape[1] == 1000


def write_random_set(root, prefix, rng, n_classes, sizes, gzipped_splits=()):
    root.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, size in sizes.items():
        data = random_speech_split(rng, size, n_classes)
        name = f"{prefix}_{split}.h5" + (".gz" if split in gzipped_splits else "")
        write_speech_file(root / name, *data, gzipped=split in gzipped_splits)
        written[split] = data
    return written


def test_speaker_holdout_never_touches_test_and_cache_is_reused(tmp_path):
    rng = np.random.default_rng(7)
    written = write_random_set(tmp_path / "shd", "shd", rng, 20, {"train": 40, "test": 9}, ("train",))
    parameters = SHDParameters(
        root=str(tmp_path / "shd"), validation="speakers", validation_speakers=[1, 3], cache_dir=str(tmp_path / "cache")
    )
    splits = load_shd(parameters, 1.0)
    speakers = np.asarray(written["train"][3])
    held = np.isin(speakers, [1, 3])
    assert len(splits.validation) == held.sum() and len(splits.train) == (~held).sum()
    assert splits.train.labels.tolist() == np.asarray(written["train"][2])[~held].tolist()
    assert splits.validation.labels.tolist() == np.asarray(written["train"][2])[held].tolist()
    assert len(splits.test) == 9
    assert isinstance(splits.train.inputs, np.memmap)  # streamed from the cache on disk
    # sample by sample against an independent binning of the written events
    for row, source in enumerate(np.flatnonzero(held)):
        times_ms = written["train"][0][source].astype(np.float64) * 1000.0
        keep = times_ms < 1000.0
        expected = {(int(t), int(c)) for t, c in zip(np.floor(times_ms[keep]), written["train"][1][source][keep])}
        assert set(map(tuple, np.argwhere(splits.validation.inputs[row]).tolist())) == expected
    entries = [entry for entry in (tmp_path / "cache").iterdir()]
    assert len(entries) == 1 and not entries[0].name.startswith(".")
    again = load_shd(parameters, 1.0)
    assert [entry.name for entry in (tmp_path / "cache").iterdir()] == [entries[0].name]
    assert np.array_equal(again.train.inputs, splits.train.inputs)
    other = load_shd(parameters.__class__(**{**vars(parameters), "max_duration_ms": 500.0}), 1.0)
    assert other.train.steps == 500 and len(list((tmp_path / "cache").iterdir())) == 2


def test_random_holdout_is_seeded_and_disjoint(tmp_path):
    rng = np.random.default_rng(3)
    write_random_set(tmp_path, "shd", rng, 20, {"train": 30, "test": 5})
    parameters = SHDParameters(
        root=str(tmp_path), validation="random", validation_fraction=0.2, validation_seed=5, cache=False
    )
    first, second = load_shd(parameters, 5.0), load_shd(parameters, 5.0)
    assert len(first.validation) == 6 and len(first.train) == 24
    assert np.array_equal(first.validation.inputs, second.validation.inputs)
    order = np.random.default_rng(5).permutation(30)
    labels = np.arange(30) % 20
    assert first.validation.labels.tolist() == labels[np.sort(order[:6])].tolist()


def test_ssc_reads_its_validation_file(tmp_path):
    rng = np.random.default_rng(11)
    write_random_set(tmp_path, "ssc", rng, 35, {"train": 8, "valid": 4, "test": 3}, ("valid",))
    splits = load_ssc(SSCParameters(root=str(tmp_path), cache_dir=str(tmp_path / "cache")), 1.0)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (8, 4, 3)
    assert splits.train.n_classes == 35 and splits.validation.labels.tolist() == [0, 1, 2, 3]


# ----- malformed files ----------------------------------------------------------------------------
def malformed(tmp_path, edit):
    times_s, units, labels, speakers = hand_samples()
    path = write_speech_file(tmp_path / "shd_train.h5", times_s, units, labels, speakers)
    write_speech_file(tmp_path / "shd_test.h5", times_s, units, labels, speakers)
    with h5py.File(path, "a") as handle:
        edit(handle)
    with pytest.raises(ValidationError) as raised:
        load_shd(SHDParameters(root=str(tmp_path), cache=False), 1.0)
    assert raised.value.file == str(path)  # every message names the file ...
    assert str(path) in str(raised.value) and raised.value.field in str(raised.value)  # ... and the field
    return raised.value


def test_missing_dataset_is_named(tmp_path):
    error = malformed(tmp_path, lambda handle: handle.__delitem__("spikes/units"))
    assert error.field == "spikes/units" and "missing" in error.problem and error.file.endswith("shd_train.h5")


def test_wrong_dtypes_are_named(tmp_path):
    def integer_times(handle):
        del handle["spikes/times"]
        times = handle.create_dataset("spikes/times", (3,), dtype=h5py.vlen_dtype(np.int32))
        for index in range(3):
            times[index] = np.zeros(1, np.int32)

    assert malformed(tmp_path, integer_times).field == "spikes/times"

    def float_labels(handle):
        del handle["labels"]
        handle.create_dataset("labels", data=np.array([0.0, 1.0, 2.0]))

    (tmp_path / "b").mkdir()
    error = malformed(tmp_path / "b", float_labels)
    assert error.field == "labels" and "float64" in error.problem

    def dense_times(handle):
        del handle["spikes/times"]
        handle.create_dataset("spikes/times", data=np.zeros((3, 2), np.float16))

    (tmp_path / "c").mkdir()
    error = malformed(tmp_path / "c", dense_times)
    assert error.field == "spikes/times" and "vlen" in error.problem


def test_ragged_lengths_that_disagree_are_named(tmp_path):
    def short_units(handle):
        handle["spikes/units"][1] = np.array([7], np.uint16)

    error = malformed(tmp_path, short_units)
    assert error.field == "spikes/units[1]" and "1 channel indices for 3 spike times" in error.problem


def test_sample_counts_that_disagree_are_named(tmp_path):
    def extra_label(handle):
        del handle["labels"]
        handle.create_dataset("labels", data=np.array([0, 1, 2, 3], np.uint16))

    error = malformed(tmp_path, extra_label)
    assert error.field == "labels" and "labels 4" in error.problem


def test_out_of_range_channel_and_label_are_named(tmp_path):
    def big_channel(handle):
        handle["spikes/units"][1] = np.array([7, 700, 1], np.uint16)

    assert malformed(tmp_path, big_channel).field == "spikes/units[1]"

    def big_label(handle):
        handle["labels"][0] = 20

    (tmp_path / "b").mkdir()
    error = malformed(tmp_path / "b", big_label)
    assert error.field == "labels" and "[0, 19]" in error.allowed


def test_damaged_gzip_and_non_hdf5_are_named(tmp_path):
    times_s, units, labels, speakers = hand_samples()
    path = write_speech_file(tmp_path / "shd_train.h5.gz", times_s, units, labels, gzipped=True)
    write_speech_file(tmp_path / "shd_test.h5", times_s, units, labels)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValidationError) as raised:
        load_shd(SHDParameters(root=str(tmp_path), cache=False), 1.0)
    assert raised.value.file.endswith("shd_train.h5.gz")
    path.unlink()
    (tmp_path / "shd_train.h5").write_bytes(gzip.compress(b"not hdf5"))
    with pytest.raises(ValidationError) as raised:
        load_shd(SHDParameters(root=str(tmp_path), cache=False), 1.0)
    assert "HDF5" in raised.value.problem and not list(tmp_path.glob(".neurodelay-*"))


def test_missing_files_speakers_and_memory_limit(tmp_path, monkeypatch):
    with pytest.raises(ValidationError, match="shd_train.h5"):
        load_shd(SHDParameters(root=str(tmp_path), cache=False), 1.0)
    times_s, units, labels, _ = hand_samples()
    write_speech_file(tmp_path / "shd_train.h5", times_s, units, labels)  # no extra/speaker
    write_speech_file(tmp_path / "shd_test.h5", times_s, units, labels)
    with pytest.raises(ValidationError) as raised:
        load_shd(SHDParameters(root=str(tmp_path), validation="speakers", validation_speakers=[1], cache=False), 1.0)
    assert raised.value.field == "extra/speaker"
    with pytest.raises(ValidationError) as raised:
        load_shd(SHDParameters(root=str(tmp_path), cache=False, max_memory_gib=1e-6), 1.0)
    assert raised.value.field == "data.cache"
    monkeypatch.setenv("SOME_DATA_ROOT", str(tmp_path))
    assert len(load_shd(SHDParameters(root="${SOME_DATA_ROOT}", cache=False), 1.0).train) == 3


def declared_only(path, samples: int) -> None:
    """A file in the published layout that declares ``samples`` samples and stores none of them."""
    with h5py.File(path, "w") as handle:
        for name, dtype in (("spikes/times", np.float16), ("spikes/units", np.uint16)):
            handle.create_dataset(name, shape=(samples,), dtype=h5py.vlen_dtype(dtype), chunks=(1024,))
        handle.create_dataset("labels", shape=(samples,), dtype=np.uint16, chunks=(1024,))


def test_declared_sample_counts_are_bounded_before_reading(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURODELAY_MEMORY_LIMIT_GB", "0.5")
    for split in ("train", "test"):
        declared_only(tmp_path / f"shd_{split}.h5", 10**12)  # a 3 kB file: 10^12 labels would be 2 TB
    with pytest.raises(ValidationError) as raised:
        load_shd(SHDParameters(root=str(tmp_path), cache=False), 1.0)
    assert raised.value.field == "labels" and raised.value.file.endswith("shd_train.h5")
    assert "1000000000000 declared samples" in str(raised.value)


def test_a_binned_split_larger_than_the_cache_disk_is_refused(tmp_path):
    for split in ("train", "test"):
        declared_only(tmp_path / f"shd_{split}.h5", 10**6)
    parameters = SHDParameters(root=str(tmp_path), max_duration_ms=1e6, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ValidationError) as raised:
        load_shd(parameters, 1.0)  # 10^6 samples x 10^6 steps x 700 channels: 636 TiB
    assert raised.value.field == "labels" and "GiB are free" in str(raised.value)
    assert [path.name for path in (tmp_path / "cache").iterdir()] == []  # the staging folder is removed


def test_cache_publishes_atomically_and_discards_failed_builds(tmp_path):
    cache = BinnedCache(tmp_path / "cache")
    writer = cache.writer("abc")
    inputs = writer.open_inputs("train.inputs", (2, 3, 4))
    inputs[1, 2, 3] = True
    writer.save("train.labels", np.array([0, 1]))
    assert cache.load("abc") is None  # nothing visible before publishing
    writer.publish({"note": "x"})
    arrays, manifest = cache.load("abc")
    assert arrays["train.inputs"][1, 2, 3] and arrays["train.inputs"].sum() == 1
    assert manifest["note"] == "x" and sorted(os.listdir(tmp_path / "cache")) == ["abc"]
    failed = cache.writer("def")
    failed.discard()
    assert sorted(os.listdir(tmp_path / "cache")) == ["abc"]
