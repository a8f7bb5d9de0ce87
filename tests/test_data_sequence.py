"""Sequence-detection patterns, the dataset shape checks and the seeded batch sampler."""

import numpy as np
import pytest

from neurodelay.data import BatchSampler, Dataset
from neurodelay.data.dataset import shard
from neurodelay.data.sequence import SequenceParameters, load_sequence
from neurodelay.errors import ValidationError


def test_patterns_are_a_then_b_and_b_then_a():
    splits = load_sequence(SequenceParameters(onset_ms=2.0, interval_ms=10.0, duration_ms=25.0, repeats=3), 1.0)
    test = splits.test
    assert test.inputs.shape == (2, 25, 2) and test.labels.tolist() == [0, 1]
    assert np.argwhere(test.inputs[0]).tolist() == [[2, 0], [12, 1]]  # class 0: input 0 first
    assert np.argwhere(test.inputs[1]).tolist() == [[2, 1], [12, 0]]  # class 1: input 1 first
    assert len(splits.train) == 6 and splits.train.labels.tolist() == [0, 1] * 3
    assert splits.validation is None


def test_off_grid_spike_time_is_an_error_not_a_rounding():
    with pytest.raises(ValidationError, match="grid"):
        load_sequence(SequenceParameters(interval_ms=10.3), 1.0)


def test_dataset_rejects_wrong_shapes_and_labels():
    with pytest.raises(ValidationError, match="inputs"):
        Dataset("x", np.zeros((2, 3, 4), np.float32), np.zeros(2, np.int64), 1.0, 2)
    with pytest.raises(ValidationError, match=r"\[0, 1\]"):
        Dataset("x", np.zeros((2, 3, 4), bool), np.array([0, 2]), 1.0, 2)


def test_sampler_covers_every_sample_once_per_epoch_and_resumes_exactly():
    sampler = BatchSampler(23, 5, seed=7)
    assert len(sampler) == 5
    first = sampler.epoch_batches()
    assert [len(b) for b in first] == [5, 5, 5, 5, 3]
    assert sorted(np.concatenate(first).tolist()) == list(range(23))
    saved = sampler.state_dict()
    second = sampler.epoch_batches()
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))
    fresh = BatchSampler(23, 5, seed=7)
    fresh.load_state_dict(saved)
    for a, b in zip(second, fresh.epoch_batches()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("size, world", [(7, 2), (1, 2), (10, 3), (8, 1)])
def test_shards_partition_the_batch_in_order(size, world):
    batch = np.arange(100, 100 + size)
    parts = [shard(batch, rank, world) for rank in range(world)]
    np.testing.assert_array_equal(np.concatenate(parts), batch)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
