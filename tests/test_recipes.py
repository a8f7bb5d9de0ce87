"""Every paper recipe in examples/ runs end to end (``neurodelay train --limit``) on generated files in
the published formats. Only ``epochs`` is lowered to 1 (and the Braille pickle opt-in given)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from neurodelay import ir
from neurodelay.cli import main
from neurodelay.data import augment
from published_formats import random_speech_split, write_braille_pickle, write_speech_file

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def write_speech(root: Path, prefix: str, n_classes: int, splits: dict[str, int]) -> None:
    root.mkdir(parents=True)
    rng = np.random.default_rng(len(prefix))
    for split, size in splits.items():
        write_speech_file(
            root / f"{prefix}_{split}.h5.gz", *random_speech_split(rng, size, n_classes, max_events=400), gzipped=True
        )


def write_braille(root: Path) -> None:
    root.mkdir(parents=True)
    rng = np.random.default_rng(1)
    letters = ["Space", "A", "B", "C"] * 10
    events = [[[sorted(rng.uniform(0, 0.3, 3).tolist()), []] for _ in range(12)] for _ in letters]
    write_braille_pickle(root / "data_braille_letters_th_1.pkl", letters, events)


# recipe: (file writer, data overrides, hidden sizes, recurrent, samples per training epoch with --limit 3:
#          None without augmentation; SHD adds round(0.9372 * 3) = 3 blended samples)
RECIPES = {
    "shd": (lambda data: write_speech(data / "shd", "shd", 20, {"train": 6, "test": 4}), {}, [512], True, 6),
    "ssc": (
        lambda data: write_speech(data / "ssc", "ssc", 35, {"train": 6, "valid": 4, "test": 4}),
        {},
        [1024, 1024],
        False,
        3,
    ),
    "braille": (lambda data: write_braille(data / "braille"), {"allow_pickle": True}, [1024, 1024], False, None),
}


@pytest.mark.slow
@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_recipe_runs_end_to_end(recipe, tmp_path, monkeypatch):
    make_files, data_overrides, hidden_sizes, recurrent, augmented_epoch = RECIPES[recipe]
    seen: list[np.ndarray] = []
    original_batch = augment.TrainingAugmenter.batch

    def recording_batch(self, indices, *args, **kwargs):
        seen.append(np.asarray(indices))
        return original_batch(self, indices, *args, **kwargs)

    monkeypatch.setattr(augment.TrainingAugmenter, "batch", recording_batch)
    data_root = tmp_path / "data"
    make_files(data_root)
    monkeypatch.setenv("NEURODELAY_DATA", str(data_root))
    monkeypatch.setenv("NEURODELAY_CACHE", str(tmp_path / "cache"))
    config = yaml.safe_load((EXAMPLES / f"{recipe}.yaml").read_text())
    config["epochs"] = 1
    config["data"].update(data_overrides)
    path = tmp_path / f"{recipe}.yaml"
    path.write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    assert main(["train", str(path), "--out", str(run), "--limit", "3", "--no-progress"]) == 0
    if augmented_epoch is None:
        assert seen == []
    else:
        assert sorted(np.concatenate(seen).tolist()) == list(range(augmented_epoch))
    records = json.loads((run / "metrics.json").read_text())
    records = records["records"] if isinstance(records, dict) else records
    assert len(records) == 1 and 0.0 <= records[0]["test_accuracy"] <= 1.0
    assert ("validation_accuracy" in records[0]) == (recipe != "shd")
    network = ir.load(run / "network.ndnet")
    sizes = [p.size for p in network.neurons()][:-1]
    assert sizes == hidden_sizes and network.is_recurrent == recurrent
    first = network.projections[0]
    assert first.max_delay_steps == 1000 and first.weights.shape[0] == (24 if recipe == "braille" else 700)
    data = network.provenance["training"]["data"]["train"]
    assert "binning_report" in data and data["limited_to"] == 3
