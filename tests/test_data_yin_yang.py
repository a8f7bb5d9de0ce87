"""Yin-Yang data against facts known without our generator: the published split files and the
geometry of the figure."""

import numpy as np
import pytest

from neurodelay.data.yin_yang import (
    YinYangParameters,
    load_yin_yang,
    yin_yang_class,
    yin_yang_features,
    yin_yang_points,
)
from neurodelay.errors import ValidationError

# From the published files publication_data/{train,validation,test}_{samples,labels}.npy of
# github.com/lkriener/yin_yang_data_set: the first three samples (rounded to 1e-10), their labels,
# and the class counts of each split.
PUBLISHED = {
    "train": (
        5000,
        42,
        [
            [0.6803075386, 0.450499252, 0.3196924614, 0.549500748],
            [0.097672114, 0.6842330265, 0.902327886, 0.3157669735],
            [0.7553614103, 0.4251558745, 0.2446385897, 0.5748441255],
        ],
        [2, 1, 2],
        [1681, 1702, 1617],
    ),
    "validation": (
        1000,
        41,
        [
            [0.6805727262, 0.3209733939, 0.3194272738, 0.6790266061],
            [0.6685157173, 0.9174478489, 0.3314842827, 0.0825521511],
            [0.8019778902, 0.1790287292, 0.1980221098, 0.8209712708],
        ],
        [0, 1, 0],
        [316, 336, 348],
    ),
    "test": (
        1000,
        40,
        [
            [0.2340966456, 0.4017249752, 0.7659033544, 0.5982750248],
            [0.751329022, 0.4682425193, 0.248670978, 0.5317574807],
            [0.1383253072, 0.5709539713, 0.8616746928, 0.4290460287],
        ],
        [2, 2, 1],
        [350, 316, 334],
    ),
}


@pytest.mark.parametrize("split", sorted(PUBLISHED))
def test_splits_equal_the_published_files(split):
    size, seed, first_features, first_labels, counts = PUBLISHED[split]
    points, labels = yin_yang_points(size, seed)
    np.testing.assert_allclose(yin_yang_features(points)[:3], first_features, atol=1e-10)
    assert labels[:3].tolist() == first_labels
    assert np.bincount(labels, minlength=3).tolist() == counts
    assert np.all(np.abs(np.bincount(labels) / size - 1 / 3) < 0.03)  # balanced by the goal draw


# (x, y, class) read off the figure's geometry (r_big 0.5, r_small 0.1; dots at (0.25, 0.5), (0.75, 0.5)).
HAND_POINTS = [
    (0.25, 0.50, 2),  # centre of the left dot
    (0.75, 0.50, 2),  # centre of the right dot
    (0.75, 0.58, 2),  # inside the right dot (distance 0.08)
    (0.50, 0.90, 1),  # upper half, far from the right lobe
    (0.50, 0.10, 0),  # lower half, far from the left lobe
    (0.25, 0.65, 1),  # ring around the left dot (distance 0.15)
    (0.25, 0.35, 1),  # same ring, below the dot
    (0.75, 0.35, 0),  # ring around the right dot (distance 0.15)
    (0.75, 0.65, 0),  # same ring, above the dot: the lobe beats the upper half
    (0.90, 0.60, 0),  # right lobe, outside the ring (distance 0.18)
    (0.10, 0.40, 1),  # left lobe
]


@pytest.mark.parametrize("x, y, expected", HAND_POINTS)
def test_class_of_hand_chosen_points(x, y, expected):
    assert yin_yang_class(x, y) == expected


def test_rasters_hold_one_spike_per_feature_at_its_encoded_time():
    parameters = YinYangParameters(
        train_size=50,
        validation_size=10,
        test_size=20,
        t_max_ms=30.0,
        duration_ms=40.0,
        bias_input=True,
        bias_time_ms=2.0,
    )
    splits = load_yin_yang(parameters, dt_ms=0.5)
    train = splits.train
    assert train.inputs.shape == (50, 80, 5) and train.inputs.dtype == bool
    assert (train.inputs.sum(axis=1) == 1).all()  # exactly one spike per input
    points, labels = yin_yang_points(50, 42)
    features = yin_yang_features(points)
    assert features.min() >= 0.0 and features.max() <= 1.0
    np.testing.assert_allclose(features[:, :2] + features[:, 2:], 1.0)
    spike_steps = train.inputs.argmax(axis=1)  # [samples, inputs]
    times_ms = spike_steps[:, :4] * 0.5
    assert np.abs(times_ms - 30.0 * features).max() <= 0.25  # within half a step
    assert (spike_steps[:, 4] == 4).all()  # bias at 2 ms = step 4
    assert train.labels.tolist() == labels.tolist()
    assert 0 < train.metadata["encoding_max_error_ms"] <= 0.25
    assert len(splits.validation) == 10 and len(splits.test) == 20


def test_limit_takes_the_first_samples():
    splits = load_yin_yang(YinYangParameters(train_size=30, validation_size=5, test_size=5), 1.0)
    limited = splits.limited(7)
    assert len(limited.train) == 7 and len(limited.test) == 5
    np.testing.assert_array_equal(limited.train.inputs, splits.train.inputs[:7])
    assert limited.train.metadata["limited_to"] == 7


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"r_big": 0.7}, "data.r_big"),
        ({"r_small": 0.3}, "data.r_small"),
        ({"train_size": 0}, "data.train_size"),
        ({"t_max_ms": 50.0, "duration_ms": 40.0}, "data.duration_ms"),
        ({"bias_time_ms": -1.0}, "data.bias_time_ms"),
    ],
)
def test_bad_parameters_name_the_field(changes, field):
    with pytest.raises(ValidationError) as caught:
        YinYangParameters(**changes).check("data")
    assert caught.value.field == field
    assert caught.value.allowed


def test_too_short_trial_for_the_grid_is_an_error():
    parameters = YinYangParameters(train_size=3, validation_size=3, test_size=3, t_max_ms=30.0, duration_ms=30.2)
    with pytest.raises(ValidationError, match="duration_ms"):
        load_yin_yang(parameters, dt_ms=0.8)  # t_max lands on step 38, the trial has steps 0..37


def test_split_sizes_beyond_the_memory_limit_are_refused_before_drawing(monkeypatch):
    monkeypatch.setenv("NEURODELAY_MEMORY_LIMIT_GB", "0.5")
    # drawing 10^8 points one by one took hours before any allocation failed
    with pytest.raises(ValidationError) as raised:
        load_yin_yang(YinYangParameters(validation_size=10**8), 1.0)
    assert raised.value.field == "data.validation_size" and "would need about" in str(raised.value)
