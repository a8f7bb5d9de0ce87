"""The common dataset shape and the seeded batch sampler every training run draws batches from."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import ValidationError


@dataclass(frozen=True, eq=False)
class Dataset:
    """Labelled spike rasters on one time grid.

    name: what the split is, e.g. ``"yin_yang/train"``.
    inputs: bool ``[n_samples, steps, n_inputs]``; ``inputs[k, n, i]`` is True when input ``i``
        spikes at step ``n`` (time ``n * dt_ms``) of sample ``k``.
    labels: int64 ``[n_samples]``, each in ``[0, n_classes)``.
    dt_ms: the timestep of the raster in ms.
    n_classes: number of classes.
    metadata: how the split was made (generator, seed, encoding and its quantization error).
    """

    name: str
    inputs: np.ndarray
    labels: np.ndarray
    dt_ms: float
    n_classes: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        inputs = np.asarray(self.inputs)
        labels = np.asarray(self.labels)
        if inputs.dtype != np.bool_ or inputs.ndim != 3:
            raise ValidationError(
                f"{self.name}.inputs",
                f"got {inputs.dtype} of shape {inputs.shape}",
                "bool [n_samples, steps, n_inputs]",
            )
        if 0 in inputs.shape[1:]:  # the engine's time loop and the first population need both
            raise ValidationError(
                f"{self.name}.inputs",
                f"{inputs.shape[1]} steps of {inputs.shape[2]} channels per sample",
                "at least 1 step and 1 channel",
            )
        if labels.ndim != 1 or labels.shape[0] != inputs.shape[0] or labels.dtype.kind not in "iu":
            raise ValidationError(
                f"{self.name}.labels",
                f"got {labels.dtype} of shape {labels.shape}",
                f"integer [{inputs.shape[0]}] (one label per sample)",
            )
        if labels.size and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise ValidationError(
                f"{self.name}.labels", f"labels span [{labels.min()}, {labels.max()}]", f"[0, {self.n_classes - 1}]"
            )
        object.__setattr__(self, "labels", labels.astype(np.int64))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def steps(self) -> int:
        """Timesteps per sample."""
        return int(self.inputs.shape[1])

    @property
    def n_inputs(self) -> int:
        return int(self.inputs.shape[2])

    def limited(self, max_samples: int | None) -> "Dataset":
        """The first ``max_samples`` samples (all of them when None or larger than the split)."""
        if max_samples is None or max_samples >= len(self):
            return self
        metadata = dict(self.metadata, limited_to=int(max_samples), full_size=len(self))
        return replace(self, inputs=self.inputs[:max_samples], labels=self.labels[:max_samples], metadata=metadata)

    def class_counts(self) -> np.ndarray:
        """int64 ``[n_classes]``: samples per class."""
        return np.bincount(self.labels, minlength=self.n_classes)


@dataclass(frozen=True)
class DataSplits:
    """The splits of one task; ``validation`` is None where the task has none."""

    train: Dataset
    test: Dataset
    validation: Dataset | None = None

    def limited(self, max_samples: int | None) -> "DataSplits":
        return DataSplits(
            self.train.limited(max_samples),
            self.test.limited(max_samples),
            None if self.validation is None else self.validation.limited(max_samples),
        )


class BatchSampler:
    """Shuffles sample indices into batches with its own seeded generator (numpy PCG64).

    Each call of :meth:`epoch_batches` draws one new permutation, so the sequence of epochs is
    fixed by the seed. :meth:`state_dict` / :meth:`load_state_dict` capture the generator, so a run
    resumed from a checkpoint draws the same permutations as an uninterrupted one.
    """

    def __init__(self, n_samples: int, batch_size: int, seed: int, *, shuffle: bool = True) -> None:
        if n_samples < 1:
            raise ValidationError("n_samples", f"got {n_samples}", ">= 1 sample")
        if batch_size < 1:
            raise ValidationError("batch_size", f"got {batch_size}", ">= 1")
        self.n_samples = int(n_samples)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self._generator = np.random.Generator(np.random.PCG64(seed))

    def __len__(self) -> int:
        """Batches per epoch (the last one may be smaller)."""
        return -(-self.n_samples // self.batch_size)

    def epoch_batches(self) -> list[np.ndarray]:
        """int64 index arrays, one per batch, covering every sample once."""
        order = self._generator.permutation(self.n_samples) if self.shuffle else np.arange(self.n_samples)
        return [order[start : start + self.batch_size] for start in range(0, self.n_samples, self.batch_size)]

    def state_dict(self) -> dict[str, Any]:
        return {"bit_generator": self._generator.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._generator.bit_generator.state = state["bit_generator"]


def shard(indices: np.ndarray, rank: int, world_size: int) -> np.ndarray:
    """The contiguous part of a global batch that process ``rank`` of ``world_size`` handles.

    Parts differ in size by at most one sample; a part may be empty when the batch is smaller
    than ``world_size``.
    """
    start, stop = (rank * len(indices)) // world_size, ((rank + 1) * len(indices)) // world_size
    return indices[start:stop]
