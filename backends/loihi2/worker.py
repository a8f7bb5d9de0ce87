"""Child-process entry point of the Lava backend: run exported models in Lava, write the recordings.

    python -m neurodelay.backends.loihi2.worker JOBS.json [--hardware]

JOBS.json is a list of ``{"model": MODEL_DIR, "inputs": INPUTS.npz, "out": OUT.npz}`` run in order
(one child for several jobs saves the interpreter and Lava import per job). INPUTS.npz holds ``{source}`` arrays ``[batch, steps, n]``; OUT.npz receives ``{population}/spikes``
(bool), ``{population}/u`` and ``{population}/v`` (int64), all ``[batch, steps, n]`` in the IR's step
numbering. Each batch item is one Lava run, always stopped (even on errors) so that no Lava worker
process outlives it. The parent process enforces the time limit.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from ...atomic import write_with


def run_config(hardware: bool):
    if hardware:
        try:
            from lava.magma.core.run_configs import Loihi2HwCfg
        except ImportError as error:  # the public lava-nc has no Loihi 2 hardware support
            raise SystemExit(f"Loihi2HwCfg is not available: {error}") from None
        return Loihi2HwCfg()
    from lava.magma.core.run_configs import Loihi2SimCfg

    return Loihi2SimCfg(select_tag="fixed_pt")


def run_one(model, source_data: dict[str, np.ndarray], steps: int, hardware: bool) -> dict[str, np.ndarray]:
    """One Lava run of ``model``: ``{population/quantity: [steps, n]}``."""
    from lava.magma.core.run_conditions import RunSteps

    from ...exporters.loihi2.lower import build

    graph = build(model, source_data, steps)
    try:
        graph.entry.run(condition=RunSteps(num_steps=steps), run_cfg=run_config(hardware))
        result = {}
        for name, lif in graph.lifs.items():
            result[f"{name}/spikes"] = graph.sinks[name].data.get().T.astype(bool)
            monitor_u, monitor_v = graph.monitors[name]
            result[f"{name}/u"] = np.asarray(monitor_u.get_data()[lif.name]["u"]).astype(np.int64)
            result[f"{name}/v"] = np.asarray(monitor_v.get_data()[lif.name]["v"]).astype(np.int64)
        return result
    finally:
        graph.entry.stop()


def run_job(model_dir: str, inputs_path: str, out_path: str, hardware: bool) -> None:
    from ...exporters.loihi2.artefact import load

    model = load(model_dir).model
    with np.load(inputs_path, allow_pickle=False) as data:
        inputs = {name: data[name] for name in data.files}
    batch, steps = next(iter(inputs.values())).shape[:2]
    runs = [
        run_one(model, {name: spikes[item] for name, spikes in inputs.items()}, steps, hardware)
        for item in range(batch)
    ]
    arrays = {key: np.stack([run[key] for run in runs]) for key in runs[0]} if runs else {}
    write_with(out_path, lambda stream: np.savez(stream, **arrays))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jobs")
    parser.add_argument("--hardware", action="store_true")
    args = parser.parse_args(argv)
    with open(args.jobs) as stream:
        jobs = json.load(stream)
    for job in jobs:
        run_job(job["model"], job["inputs"], job["out"], args.hardware)
        print(f"done {job['out']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
