"""The paper's augmentations on binned rasters: shifts, same-class blending, seeded batches."""

from __future__ import annotations

import numpy as np
import pytest

from neurodelay.data import Dataset
from neurodelay.data.augment import (
    AugmentationSpec,
    TrainingAugmenter,
    augmenter_for,
    blend_pair,
    jitter_raster,
    shift_raster,
)
from neurodelay.errors import ValidationError


def raster(points, steps=10, channels=8):
    out = np.zeros((steps, channels), bool)
    for step, channel in points:
        out[step, channel] = True
    return out


def test_shift_moves_spikes_and_counts_the_ones_that_fall_out():
    original = raster([(0, 0), (3, 5), (9, 7)])
    shifted, lost = shift_raster(original, 1, -2)
    assert set(map(tuple, np.argwhere(shifted).tolist())) == {(4, 3)} and lost == 2
    same, lost = shift_raster(original, 0, 0)
    assert np.array_equal(same, original) and lost == 0


def test_blend_moves_both_halfway_and_keeps_about_half():
    first = raster([(2, 1)], steps=40, channels=40)
    second = raster([(10, 9)], steps=40, channels=40)
    everything, lost = blend_pair(first, second, np.random.default_rng(0), 1.0)
    # centres (2, 1) and (10, 9): each moves by int(+-4) steps and channels onto (6, 5)
    assert np.argwhere(everything).tolist() == [[6, 5]] and lost == 0
    dense_a = np.zeros((200, 60), bool)
    dense_a[::2, :30] = True
    dense_b = np.roll(dense_a, 30, axis=1)
    blended, _ = blend_pair(dense_a, dense_b, np.random.default_rng(1), 0.5)
    # centres differ by 30 channels: both land on channels 15..44; kept fraction ~ 1 - 0.5^2 = 0.75
    assert np.argwhere(blended)[:, 1].min() >= 15 and np.argwhere(blended)[:, 1].max() <= 44
    fraction = blended.sum() / (100 * 30)
    assert 0.70 < fraction < 0.80


def make_dataset(n=12, steps=20, channels=16, classes=3):
    rng = np.random.default_rng(4)
    inputs = rng.random((n, steps, channels)) < 0.2
    return Dataset("toy/train", inputs, np.arange(n) % classes, 1.0, classes)


def test_batches_are_reproducible_and_blends_are_same_class():
    dataset = make_dataset()
    spec = AugmentationSpec(channel_shift=3, time_shift_ms=2.0, blend_fraction=0.5)
    first, second = TrainingAugmenter(spec, dataset, 9), TrainingAugmenter(spec, dataset, 9)
    assert first.epoch_size == 18
    indices = np.array([0, 5, 12, 17])
    a_inputs, a_labels = first.batch(indices, epoch=2, batch_index=1)
    b_inputs, b_labels = second.batch(indices, epoch=2, batch_index=1)
    assert np.array_equal(a_inputs, b_inputs) and np.array_equal(a_labels, b_labels)
    c_inputs, _ = first.batch(indices, epoch=3, batch_index=1)
    assert not np.array_equal(a_inputs, c_inputs)
    assert a_labels[:2].tolist() == [0, 2]
    # an original sample is its raster moved by one (step, channel) offset within the bounds
    row = a_inputs[0]
    matches = [
        (s, c)
        for s in range(-2, 3)
        for c in range(-3, 3)
        if np.array_equal(shift_raster(dataset.inputs[0], s, c)[0], row)
    ]
    assert matches


def test_blend_partner_has_the_same_class():
    dataset = make_dataset(n=6, classes=2)
    spec = AugmentationSpec(blend_fraction=1.0, blend_keep_probability=1.0)
    augmenter = TrainingAugmenter(spec, dataset, 0)
    inputs, labels = augmenter.batch(np.arange(6, 12), 0, 0)
    assert set(labels.tolist()) <= {0, 1} and inputs.shape == (6, 20, 16)
    for raster_row, label in zip(inputs, labels):
        # with keep probability 1 a blend holds at least as many spikes as one of its (shifted) parents
        assert raster_row.sum() > 0


def test_spec_checks_and_inactive_spec_gives_no_augmenter():
    with pytest.raises(ValidationError, match="channel_shift"):
        AugmentationSpec(channel_shift=-1).check("data.augmentation")
    with pytest.raises(ValidationError, match="blend_keep_probability"):
        AugmentationSpec(blend_keep_probability=0.0).check("data.augmentation")

    class Parameters:
        augmentation = AugmentationSpec()

    assert augmenter_for(Parameters(), make_dataset(), 0) is None


def test_shifts_beyond_any_raster_are_refused_with_the_field():
    with pytest.raises(ValidationError) as raised:
        AugmentationSpec(channel_shift=10**30).check("data.augmentation")
    assert raised.value.field == "data.augmentation.channel_shift"
    dataset = Dataset("t", np.zeros((4, 5, 3), bool), np.array([0, 1, 0, 1]), 1.0, 2)
    with pytest.raises(ValidationError) as raised:  # 10^300 steps: numpy's integers() refused it as an internal error
        TrainingAugmenter(AugmentationSpec(time_shift_ms=1e300), dataset, 0)
    assert raised.value.field == "data.augmentation.time_shift_ms"


def test_jitter_moves_each_spike_within_its_bound_and_keeps_edge_spikes_inside():
    original = raster([(0, 0), (5, 1), (9, 2), (5, 3)], steps=10, channels=4)
    seen = {channel: set() for channel in range(4)}
    for seed in range(200):
        jittered, merged = jitter_raster(original, 2, np.random.default_rng(seed))
        assert merged == 0 and jittered.sum() == 4  # one spike per channel: nothing can merge
        for step, channel in np.argwhere(jittered):
            seen[int(channel)].add(int(step))
    # every offset in [-2, 2] occurs; spikes at the edges stay inside, moving only inwards
    assert seen[1] == {3, 4, 5, 6, 7} and seen[3] == {3, 4, 5, 6, 7}
    assert seen[0] == {0, 1, 2} and seen[2] == {7, 8, 9}
    # the channels' offsets are independent: the two spikes at step 5 do not always move together
    pairs = {
        tuple(np.argwhere(jitter_raster(original, 2, np.random.default_rng(seed))[0])[:, 0][[1, 3]])
        for seed in range(50)
    }
    assert len(pairs) > 5


def test_jitter_counts_spikes_that_merge():
    crowded = np.ones((3, 1), bool)  # steps 0, 1, 2 of one channel, jittered by up to 5 steps
    jittered, merged = jitter_raster(crowded, 5, np.random.default_rng(0))
    assert merged == 3 - jittered.sum() and merged >= 0
    merges = [jitter_raster(crowded, 5, np.random.default_rng(seed))[1] for seed in range(20)]
    assert max(merges) > 0


def test_yin_yang_training_batches_are_jittered_and_the_evaluation_splits_are_not():
    from neurodelay.data.yin_yang import YinYangParameters, load_yin_yang

    spec = AugmentationSpec(time_jitter_ms=0.5)
    parameters = YinYangParameters(train_size=20, validation_size=5, test_size=5, augmentation=spec)
    splits = load_yin_yang(parameters, 0.25)
    augmenter = augmenter_for(parameters, splits.train, 3)
    assert augmenter is not None and augmenter.max_jitter == 2 and augmenter.epoch_size == 20
    inputs, labels = augmenter.batch(np.arange(20), 0, 0)
    assert np.array_equal(labels, splits.train.labels)
    original = np.asarray(splits.train.inputs[:])
    assert not np.array_equal(inputs, original)
    # each input channel keeps its one spike, within 2 steps of where it was
    original_steps = original.argmax(1)
    jittered_steps = inputs.argmax(1)
    assert np.array_equal(inputs.sum(1), original.sum(1))
    assert np.abs(jittered_steps - original_steps).max() == 2
    with pytest.raises(ValidationError, match="time_jitter_ms"):
        AugmentationSpec(time_jitter_ms=-1.0).check("data.augmentation")
