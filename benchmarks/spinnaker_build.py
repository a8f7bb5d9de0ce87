"""Time virtual-board sPyNNaker builds: one network per build against several side by side.

Every build is a fresh child process (sPyNNaker start-up, mapping, synaptic-matrix generation and
read-back of what was built). The same 20 random parity networks are built with 1, 5 and 20 networks
per build (one worker) in one run, so the per-network times are directly comparable.
Writes benchmarks/results/spinnaker_build.json (atomically).

    .venv/bin/python benchmarks/spinnaker_build.py [--nets 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from neurodelay.atomic import write_json
from neurodelay.backends.spinnaker import executor
from neurodelay.ir.random_nets import random_case
from neurodelay.parity.spinnaker import compare_build, prepare

RESULT = Path(__file__).parent / "results" / "spinnaker_build.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nets", type=int, default=20)
    args = parser.parse_args()
    networks = [
        prepare(random_case(seed, max_delay_steps=200)[0], np.random.default_rng([seed, 1]))
        for seed in range(args.nets)
    ]
    rows = []
    for per_build in (1, 5, args.nets):
        started = time.perf_counter()
        built = executor(board=False, nets_per_build=per_build, workers=1).build_many(networks)
        seconds = time.perf_counter() - started
        mismatches = sum(bool(compare_build(n, b)[0]) for n, b in zip(networks, built))
        rows.append(
            {
                "nets_per_build": per_build,
                "seconds": round(seconds, 2),
                "seconds_per_net": round(seconds / len(networks), 3),
                "mismatching_nets": mismatches,
            }
        )
        print(rows[-1])
    base = rows[0]["seconds_per_net"]
    result = {
        "benchmark": "spinnaker_virtual_build",
        "nets": args.nets,
        "rows": rows,
        "speedup_vs_one_per_build": {str(r["nets_per_build"]): round(base / r["seconds_per_net"], 2) for r in rows},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    write_json(RESULT, result)
    print(json.dumps(result["speedup_vs_one_per_build"]))


if __name__ == "__main__":
    main()
