"""The paper's training-set augmentations on binned spike rasters (docs/engine.md §E6).

* **Channel shift** (SHD, SSC): one integer offset per sample, uniform in
  ``[-channel_shift, channel_shift - 1]`` (the paper's ``randint(-40, 40)``), added to every
  spike's channel; spikes shifted outside ``[0, n_channels)`` are dropped.
* **Time shift**: one integer offset per sample, uniform in ``[-s, s]`` steps with
  ``s = floor(time_shift_ms / dt_ms)``; spikes shifted outside ``[0, steps)`` are dropped.
  (Not used by the paper's recipes; offered for experiments.)
* **Time jitter**: one integer offset per *spike*, uniform in ``[-j, j]`` steps with
  ``j = floor(time_jitter_ms / dt_ms)``, each spike independently (tonic's ``TimeJitter`` on a
  grid). A spike is kept inside the raster: one that would leave it moves to the first or last
  step instead (so a spike at step 0, such as a bias spike, only moves later). Spikes of one
  channel that land on the same step merge into one; those merges are counted as dropped spikes.
  (Not in the paper; a noise augmentation for spike-time coded inputs such as Yin-Yang.)
* **Blend** (SHD): ``round(blend_fraction * n_train)`` extra samples per epoch (the paper: 7644
  extra for SHD's 8156 training samples, ``blend_fraction = 0.9372``). Each takes a random sample
  and a random sample of the same class, shifts each towards the other by half the difference of
  their mean channel and mean step (truncated towards zero, as the paper's ``int()``), drops what
  leaves the raster, keeps each spike with ``blend_keep_probability`` (0.5) from each, and merges.
  The paper blends event lists in µs before binning; here the same rule runs on the binned raster,
  so the time offset is rounded to whole steps.

Shifts apply to every training sample, blended ones included (blend first, as in the paper), and
the jitter last.
Every random number of a batch comes from a generator seeded with ``(seed, epoch, batch_index)``,
so a batch is reproducible on its own (a resumed run makes the same batches) and needs no state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ValidationError
from ..ir.validate import MAX_POPULATION_SIZE
from .dataset import Dataset
from .events import check_step_count


@dataclass(frozen=True)
class AugmentationSpec:
    """Config section ``data.augmentation`` (see the module docstring; 0 disables an augmentation)."""

    channel_shift: int = 0
    time_shift_ms: float = 0.0
    time_jitter_ms: float = 0.0
    blend_fraction: float = 0.0
    blend_keep_probability: float = 0.5

    def check(self, path: str) -> None:
        if not 0 <= self.channel_shift <= MAX_POPULATION_SIZE:
            raise ValidationError(
                f"{path}.channel_shift", f"got {self.channel_shift}", f"[0, {MAX_POPULATION_SIZE}] channels"
            )
        if not (math.isfinite(self.time_shift_ms) and self.time_shift_ms >= 0):
            raise ValidationError(f"{path}.time_shift_ms", f"got {self.time_shift_ms}", ">= 0 ms")
        if not (math.isfinite(self.time_jitter_ms) and self.time_jitter_ms >= 0):
            raise ValidationError(f"{path}.time_jitter_ms", f"got {self.time_jitter_ms}", ">= 0 ms")
        if not 0.0 <= self.blend_fraction <= 10.0:
            raise ValidationError(
                f"{path}.blend_fraction",
                f"got {self.blend_fraction}",
                "[0, 10] extra blended samples per training sample",
            )
        if not 0.0 < self.blend_keep_probability <= 1.0:
            raise ValidationError(f"{path}.blend_keep_probability", f"got {self.blend_keep_probability}", "(0, 1]")

    @property
    def active(self) -> bool:
        return self.channel_shift > 0 or self.time_shift_ms > 0 or self.time_jitter_ms > 0 or self.blend_fraction > 0


def shift_raster(raster: np.ndarray, step_offset: int, channel_offset: int) -> tuple[np.ndarray, int]:
    """``raster`` (bool ``[steps, channels]``) moved by whole steps and channels; returns the new
    raster and the number of spikes that fell outside it."""
    steps, channels = raster.shape
    spike_steps, spike_channels = np.nonzero(raster)
    spike_steps = spike_steps + step_offset
    spike_channels = spike_channels + channel_offset
    inside = (spike_steps >= 0) & (spike_steps < steps) & (spike_channels >= 0) & (spike_channels < channels)
    shifted = np.zeros_like(raster, dtype=bool)
    shifted[spike_steps[inside], spike_channels[inside]] = True
    return shifted, int(inside.size - np.count_nonzero(inside))


def jitter_raster(raster: np.ndarray, max_offset: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """``raster`` (bool ``[steps, channels]``) with every spike moved by its own integer offset,
    uniform in ``[-max_offset, max_offset]`` steps, kept inside ``[0, steps)``; returns the new
    raster and the number of spikes lost by landing on another spike of the same channel."""
    steps = raster.shape[0]
    spike_steps, spike_channels = np.nonzero(raster)
    offsets = rng.integers(-max_offset, max_offset + 1, size=spike_steps.size)
    moved = np.clip(spike_steps + offsets, 0, steps - 1)
    jittered = np.zeros_like(raster, dtype=bool)
    jittered[moved, spike_channels] = True
    return jittered, int(spike_steps.size - np.count_nonzero(jittered))


def _centre(raster: np.ndarray) -> tuple[float, float]:
    """Mean step and mean channel of the spikes (0, 0 for an empty raster)."""
    spike_steps, spike_channels = np.nonzero(raster)
    if spike_steps.size == 0:
        return 0.0, 0.0
    return float(spike_steps.mean()), float(spike_channels.mean())


def blend_pair(
    first: np.ndarray, second: np.ndarray, rng: np.random.Generator, keep_probability: float
) -> tuple[np.ndarray, int]:
    """Blend two same-class rasters (bool ``[steps, channels]``) as the paper does; returns the
    blend and the number of spikes the half-way shifts pushed out of the raster."""
    step_a, channel_a = _centre(first)
    step_b, channel_b = _centre(second)
    moved_a, lost_a = shift_raster(first, int((step_b - step_a) / 2), int((channel_b - channel_a) / 2))
    moved_b, lost_b = shift_raster(second, int((step_a - step_b) / 2), int((channel_a - channel_b) / 2))
    keep_a = rng.random(moved_a.shape) < keep_probability
    keep_b = rng.random(moved_b.shape) < keep_probability
    return (moved_a & keep_a) | (moved_b & keep_b), lost_a + lost_b


class TrainingAugmenter:
    """Makes augmented training batches from ``dataset`` (the training split).

    An epoch has :attr:`epoch_size` samples: indices below ``len(dataset)`` are the training
    samples, the others stand for freshly blended ones. ``dropped_spikes`` counts, over the
    augmenter's life, the spikes shifts pushed out of the raster and the jitter merged (they are part of the
    augmentation, and reported rather than hidden).
    """

    def __init__(self, spec: AugmentationSpec, dataset: Dataset, seed: int) -> None:
        self.spec = spec
        self.dataset = dataset
        self.seed = int(seed)
        steps = check_step_count(spec.time_shift_ms, dataset.dt_ms, "data.augmentation.time_shift_ms")
        self.max_step_shift = int(math.floor(steps + 1e-9))
        jitter = check_step_count(spec.time_jitter_ms, dataset.dt_ms, "data.augmentation.time_jitter_ms")
        self.max_jitter = int(math.floor(jitter + 1e-9))
        self.blended_per_epoch = int(round(spec.blend_fraction * len(dataset)))
        self.members = [np.flatnonzero(dataset.labels == label) for label in range(dataset.n_classes)]
        self.dropped_spikes = 0

    @property
    def epoch_size(self) -> int:
        return len(self.dataset) + self.blended_per_epoch

    def batch(
        self, indices: np.ndarray, epoch: int, batch_index: int, stream: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(inputs bool [B, steps, channels], labels int64 [B])`` for ``indices`` (into
        ``range(epoch_size)``) of batch ``batch_index`` of ``epoch``; ``stream`` (e.g. the rank of a
        data-parallel process) selects an independent random stream."""
        rng = np.random.default_rng([self.seed, int(epoch), int(batch_index), int(stream)])
        n = len(self.dataset)
        inputs = np.empty((len(indices), self.dataset.steps, self.dataset.n_inputs), dtype=bool)
        labels = np.empty(len(indices), dtype=np.int64)
        for row, index in enumerate(np.asarray(indices, np.int64)):
            if index < n:
                raster, label = np.asarray(self.dataset.inputs[index]), int(self.dataset.labels[index])
            else:
                first = int(rng.integers(n))
                label = int(self.dataset.labels[first])
                partner = int(rng.choice(self.members[label]))
                raster, lost = blend_pair(
                    np.asarray(self.dataset.inputs[first]),
                    np.asarray(self.dataset.inputs[partner]),
                    rng,
                    self.spec.blend_keep_probability,
                )
                self.dropped_spikes += lost
            step_offset = int(rng.integers(-self.max_step_shift, self.max_step_shift + 1)) if self.max_step_shift else 0
            channel_offset = (
                int(rng.integers(-self.spec.channel_shift, self.spec.channel_shift)) if self.spec.channel_shift else 0
            )
            if step_offset or channel_offset:
                raster, lost = shift_raster(raster, step_offset, channel_offset)
                self.dropped_spikes += lost
            if self.max_jitter:
                raster, lost = jitter_raster(raster, self.max_jitter, rng)
                self.dropped_spikes += lost
            inputs[row], labels[row] = raster, label
        return inputs, labels


def augmenter_for(parameters: object, train: Dataset, seed: int) -> TrainingAugmenter | None:
    """The augmenter a task's parameters ask for (their ``augmentation`` field), or None."""
    spec = getattr(parameters, "augmentation", None)
    return TrainingAugmenter(spec, train, seed) if spec is not None and spec.active else None
