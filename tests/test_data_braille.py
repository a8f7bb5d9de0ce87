"""Braille loader on generated pickles in the published layout (pandas DataFrame: letter, events)."""

from __future__ import annotations

import builtins
import pickle

import numpy as np
import pytest

from neurodelay.data.braille import BrailleParameters, load_braille, stratified_split
from neurodelay.errors import NeurodelayError, ValidationError
from published_formats import write_braille_pickle

pytest.importorskip("pandas", reason="pandas writes the Braille-layout test pickles (test extra)")


def recording(spikes):
    """12 taxels x [ON, OFF] lists; ``spikes``: {(taxel, polarity): [times in s]}."""
    return [[list(spikes.get((taxel, polarity), [])) for polarity in (0, 1)] for taxel in range(12)]


def write_set(path, per_letter=10):
    letters, events = [], []
    for index, letter in enumerate(["Space", "A", "B"]):
        for repeat in range(per_letter):
            letters.append(letter)
            events.append(recording({(index, 0): [0.001 * repeat, 0.0105], (11, 1): [0.0204]}))
    return write_braille_pickle(path, letters, events)


def test_channels_times_labels_and_split(tmp_path):
    path = write_set(tmp_path / "braille.pkl")
    splits = load_braille(BrailleParameters(file=str(path), allow_pickle=True), 1.0)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (21, 3, 6)
    assert splits.train.inputs.shape[1:] == (21, 24)  # latest event 20.4 ms -> 21 steps
    assert splits.train.n_classes == 27 and set(splits.train.labels.tolist()) == {0, 1, 2}
    for dataset in (splits.train, splits.validation, splits.test):
        assert np.bincount(dataset.labels, minlength=3)[:3].min() >= 1
        for inputs, label in zip(dataset.inputs, dataset.labels):
            points = set(map(tuple, np.argwhere(inputs).tolist()))
            assert (10, label) in points and (20, 23) in points  # taxel 11 OFF -> channel 11 + 12
            assert len(points) in (2, 3)


def test_stratified_split_is_seeded_and_disjoint():
    labels = np.repeat(np.arange(4), 10)
    parts = stratified_split(labels, 0.7, 0.1, 3)
    joined = np.concatenate(list(parts.values()))
    assert sorted(joined.tolist()) == list(range(40))
    assert np.bincount(labels[parts["train"]]).tolist() == [7] * 4
    assert np.bincount(labels[parts["validation"]]).tolist() == [1] * 4
    again = stratified_split(labels, 0.7, 0.1, 3)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)


def test_pickle_loading_is_opt_in(tmp_path):
    path = write_set(tmp_path / "braille.pkl")
    with pytest.raises(ValidationError) as raised:
        load_braille(BrailleParameters(file=str(path)), 1.0)
    assert raised.value.field == "data.allow_pickle" and "runs code" in raised.value.problem


def test_malformed_recordings_are_named(tmp_path):
    bad_taxels = write_braille_pickle(tmp_path / "a.pkl", ["A"], [[[[], []]] * 11])
    with pytest.raises(ValidationError) as raised:
        load_braille(BrailleParameters(file=str(bad_taxels), allow_pickle=True), 1.0)
    assert raised.value.field == "events[0]" and raised.value.file.endswith("a.pkl")
    bad_letter = write_braille_pickle(tmp_path / "b.pkl", ["a"], [recording({})])
    with pytest.raises(ValidationError) as raised:
        load_braille(BrailleParameters(file=str(bad_letter), allow_pickle=True), 1.0)
    assert raised.value.field == "letter[0]"
    negative = write_braille_pickle(tmp_path / "c.pkl", ["A"], [recording({(2, 1): [-0.1]})])
    with pytest.raises(ValidationError) as raised:
        load_braille(BrailleParameters(file=str(negative), allow_pickle=True), 1.0)
    assert raised.value.field == "events[0][2][1]"
    (tmp_path / "d.pkl").write_bytes(pickle.dumps({"letters": []}))
    with pytest.raises(ValidationError) as raised:
        load_braille(BrailleParameters(file=str(tmp_path / "d.pkl"), allow_pickle=True), 1.0)
    assert raised.value.field == "(columns)"


def test_without_pandas_the_task_says_how_to_install_it(tmp_path, monkeypatch):
    path = write_set(tmp_path / "braille.pkl")
    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("no pandas")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(NeurodelayError, match="pip install pandas"):
        load_braille(BrailleParameters(file=str(path), allow_pickle=True), 1.0)
