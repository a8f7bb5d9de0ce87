"""The highest Yin-Yang accuracy any classifier can reach once the inputs are spike times on a
step grid: the Bayes accuracy of the quantized inputs.

The time-to-first-spike encoding (``neurodelay.data.encoding.time_to_first_spike``) places feature
f at step ``floor((t_min + f (t_max - t_min)) / dt + 1/2)``, so x and y each take about
``(t_max - t_min) / dt + 1`` values (the features 1 - x and 1 - y add nothing: they round to the
mirror steps). All points in one grid cell look the same to the network; the best it can do is
to answer the cell's most likely class. Estimated by Monte Carlo: points uniform in the big
circle, labelled by the published rule (``neurodelay.data.yin_yang.yin_yang_class``), weighted so
that the three classes are equally likely, as the published generator draws them.

    .venv/bin/python benchmarks/yin_yang_encoding_limit.py [--points 2000000]

Writes ``benchmarks/results/yin_yang_encoding_limit.json`` (atomically).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from neurodelay.atomic import write_json
from neurodelay.data.yin_yang import YinYangParameters, yin_yang_class, yin_yang_points

RESULTS = Path(__file__).resolve().parent / "results" / "yin_yang_encoding_limit.json"
GRIDS = {
    "30 ms at 1 ms": 30,
    "30 ms at 0.5 ms (examples/yin_yang.yaml)": 60,
    "30 ms at 0.25 ms": 120,
    "30 ms at 0.125 ms": 240,
}


def cell_class_weights(points: np.ndarray, labels: np.ndarray, levels: int) -> np.ndarray:
    """``[(levels + 1)^2, 3]``: probability mass of each class in each grid cell (classes weighted
    equally)."""
    weights = 1.0 / np.bincount(labels, minlength=3)[labels]
    table = np.zeros(((levels + 1) ** 2, 3))
    np.add.at(table, (cell_of(points, levels), labels), weights)
    return table / table.sum()


def cell_of(points: np.ndarray, levels: int) -> np.ndarray:
    cells = np.floor(points * levels + 0.5).astype(np.int64)
    return cells[:, 0] * (levels + 1) + cells[:, 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    points = rng.random((args.points, 2))
    points = points[np.hypot(points[:, 0] - 0.5, points[:, 1] - 0.5) <= 0.5]
    labels = np.array([yin_yang_class(x, y) for x, y in points], np.int64)
    published = YinYangParameters()
    test_points, test_labels = yin_yang_points(published.test_size, published.test_seed)
    results = {"points": int(len(points)), "seed": args.seed, "bayes_accuracy": {}}
    for name, levels in GRIDS.items():
        table = cell_class_weights(points, labels, levels)
        answer = table.argmax(axis=1)
        results["bayes_accuracy"][name] = {
            "levels_per_coordinate": levels + 1,
            "population": float(table.max(axis=1).sum()),
            # the same best answers scored on the published test split (1000 samples)
            "published_test_split": float((answer[cell_of(test_points, levels)] == test_labels).mean()),
        }
    write_json(RESULTS, results, indent=1)
    for name, entry in results["bayes_accuracy"].items():
        print(
            f"{name:45s} {entry['levels_per_coordinate']:4d} levels  Bayes accuracy {100 * entry['population']:.2f} % "
            f"(published test split: {100 * entry['published_test_split']:.2f} %)"
        )


if __name__ == "__main__":
    main()
