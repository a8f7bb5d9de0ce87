"""Child process of the sPyNNaker backend: one ``setup()`` ... ``end()`` per process, nothing leaks.

Run as ``python -m neurodelay.backends.spinnaker.child JOB_DIR``. ``JOB_DIR/job.json`` lists the
models to build side by side in one simulation (``model_<i>.json`` / ``model_<i>.npz``, each with
optional inputs ``inputs_<i>.npz``), the run length and whether to record. The child writes
``JOB_DIR/read_back.json`` (what sPyNNaker built, per model) and, when recording,
``JOB_DIR/recordings_<i>.npz``. sPyNNaker reads its configuration from ``HOME`` and writes its
reports under the working directory; the parent sets both.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from ...exporters.spinnaker import pynn_model


def main(job_dir: str) -> int:
    with open(os.path.join(job_dir, "job.json"), encoding="utf-8") as stream:
        job = json.load(stream)
    models, inputs = [], []
    for index in range(job["n_models"]):
        with open(os.path.join(job_dir, f"model_{index}.json"), encoding="utf-8") as stream:
            skeleton = json.load(stream)
        with np.load(os.path.join(job_dir, f"model_{index}.npz")) as arrays:
            models.append(pynn_model.load_model(skeleton, arrays))
        path = os.path.join(job_dir, f"inputs_{index}.npz")
        if os.path.exists(path):
            with np.load(path) as data:
                inputs.append({name: data[name] for name in data.files})
        else:
            inputs.append({})
    import pyNN.spiNNaker as sim

    sim.setup(timestep=float(models[0]["dt_ms"]))
    built = [
        pynn_model.build(sim, model, spikes, prefix=f"m{index}_")
        for index, (model, spikes) in enumerate(zip(models, inputs))
    ]
    if job["record"]:
        for model, handles in zip(models, built):
            pynn_model.record(handles, model)
    sim.run(int(job["steps"]) * float(models[0]["dt_ms"]))
    read_back = [pynn_model.read_back(model, handles) for model, handles in zip(models, built)]
    with open(os.path.join(job_dir, "read_back.json.tmp"), "w", encoding="utf-8") as stream:
        json.dump(read_back, stream)
    os.replace(os.path.join(job_dir, "read_back.json.tmp"), os.path.join(job_dir, "read_back.json"))
    if job["record"]:
        for index, (model, handles) in enumerate(zip(models, built)):
            data = pynn_model.recordings(handles, model, int(job["steps"]))
            np.savez(
                os.path.join(job_dir, f"recordings_{index}.npz"),
                **{
                    f"{population}/{key}": value for population, values in data.items() for key, value in values.items()
                },
            )
    sim.end()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
