"""Train on data you hold in Python: ``train_on(train, test, config, out)``.

``train`` / ``test`` (and ``validation``) are any iterables of ``(spikes, label)`` pairs: lists, a
``torch.utils.data.Dataset``, a generator. ``spikes`` is ``[steps, channels]`` (numpy, torch or
lists) of 0/1 values on the network's ``dt_ms``; shorter samples are padded with silence. The
config is an :class:`ExperimentConfig`, a mapping or a YAML path; its ``data`` section may be left
out (it becomes ``{task: samples}``, which only this function can feed).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable

from ..data import DataSplits
from ..data.arrays import dataset_from_samples
from ..errors import ValidationError
from ..outputs import check_output_folder
from .config import ExperimentConfig, config_from_dict, load_config
from .trainer import RunOptions, train


def train_on(
    train_samples: Iterable[tuple[Any, Any]],
    test_samples: Iterable[tuple[Any, Any]],
    config: ExperimentConfig | dict | str | Path,
    out: str | Path,
    *,
    validation_samples: Iterable[tuple[Any, Any]] | None = None,
    n_classes: int | None = None,
    resume: bool = False,
) -> list[dict[str, Any]]:
    """Train the config's network on the given samples into the run folder ``out``; returns the
    per-epoch metric records (as ``neurodelay train``). ``n_classes`` defaults to 1 + the largest
    label of any split."""
    if isinstance(config, (str, Path)):
        config = load_config(config)
    elif isinstance(config, dict):
        config = config_from_dict({"data": {"task": "samples"}, **config})
    elif not isinstance(config, ExperimentConfig):
        raise ValidationError("config", f"got {type(config).__name__}", "an ExperimentConfig, a mapping or a YAML path")
    check_output_folder(out, option="out", force=True)  # a run folder (or none yet), not a file or below one
    dt_ms = config.network.dt_ms
    named = {"train": train_samples, "test": test_samples}
    if validation_samples is not None:
        named["validation"] = validation_samples
    datasets = {
        name: dataset_from_samples(samples, f"samples/{name}", dt_ms, n_classes=n_classes)
        for name, samples in named.items()
    }
    classes = n_classes or max(dataset.n_classes for dataset in datasets.values())
    channels = datasets["train"].n_inputs
    for name, dataset in datasets.items():
        if dataset.n_inputs != channels:
            raise ValidationError(
                f"samples/{name}[0].spikes", f"{dataset.n_inputs} channels", f"{channels} (as the training samples)"
            )
    datasets = {name: replace(dataset, n_classes=classes) for name, dataset in datasets.items()}
    splits = DataSplits(datasets["train"], datasets["test"], datasets.get("validation"))
    return train(config, RunOptions(Path(out), resume=resume), splits=splits)
