"""sPyNNaker exporter: a network quantized for SpiNNaker -> a PyNN ``IF_curr_exp`` model.

``export(network, out_dir)`` writes, atomically, into ``out_dir``:

* ``model.json`` + ``model.npz``: the model (populations with PyNN parameters in ms/nF/mV/nA, the
  pinned ring-buffer shift and neurons per core; one ``FromListConnector`` projection per IR
  projection and receptor type, weights in nA, delays in ms);
* ``run_on_spinnaker.py``: a standalone, readable PyNN script (numpy + sPyNNaker only) that builds
  the model, optionally feeds ``--inputs spikes.npz``, runs it, and saves recordings and what
  sPyNNaker built (``--read-back``);
* ``export.json``: the summary (shifts, neurons per core, delay slots, delay extensions, synapse
  counts, synapses left out because their weight rounded to zero).

:func:`model_from_network` gives the same model in memory; :mod:`.pynn_model` builds it into a
running ``pyNN.spiNNaker`` (the backend does that in a child process). The mapping of IR values
and the latency convention (sPyNNaker delay = IR delay + 1 step) are documented in
:mod:`neurodelay.quant.spinnaker`; delays beyond what the cores plus delay extensions hold raise
:class:`~neurodelay.errors.TargetLimitError` naming the projection, the delay and the limit.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np

from ...atomic import write_with
from ...errors import ValidationError
from ...export_result import ExportResult
from ...ir import Network
from ...quant.spinnaker import SpiNNakerModel, integer_model, weight_unit_nA
from . import pynn_model

SCRIPT_NAME = "run_on_spinnaker.py"


def model_from_layout(layout: SpiNNakerModel, steps: int = 100) -> dict[str, Any]:
    """The plain-dictionary model (see :mod:`.pynn_model`) of a SpiNNaker layout."""
    populations = [
        {
            "name": p.name,
            "size": p.size,
            "neurons_per_core": p.neurons_per_core,
            "ring_buffer_shift": p.shift,
            "delay_slots": p.slots,
            "delay_extension": p.needs_delay_extension,
            "parameters": {
                key: np.asarray(p.pynn_parameters[key], np.float64) for key in pynn_model.MODEL_CELL_PARAMETERS
            },
        }
        for p in layout.populations.values()
    ]
    projections = []
    for synapses in layout.synapses:
        shift = layout.populations[synapses.post_population].shift
        projections.append(
            {
                "label": f"{synapses.projection}:{synapses.receptor}",
                "ir_projection": synapses.projection,
                "pre": synapses.pre_population,
                "post": synapses.post_population,
                "receptor": synapses.receptor,
                "pre_index": synapses.pre,
                "post_index": synapses.post,
                "weight_nA": synapses.weight_words * weight_unit_nA(shift),
                "delay_ms": synapses.delay_steps * layout.dt_ms,
            }
        )
    return {
        "format": "neurodelay-spinnaker-model/1",
        "network": layout.network_name,
        "dt_ms": layout.dt_ms,
        "steps": int(steps),
        "voltage_scale_mv": layout.voltage_scale_mv,
        "sources": [{"name": name, "size": size} for name, size in layout.sources.items()],
        "populations": populations,
        "projections": projections,
    }


def model_from_network(network: Network, steps: int = 100) -> dict[str, Any]:
    """The model of a network returned by ``quantize_network`` (raises TargetLimitError on delays)."""
    return model_from_layout(integer_model(network), steps)


SCRIPT_MAIN = """

def main(argv=None):
    import argparse
    import json
    import os
    parser = argparse.ArgumentParser(description=__doc__.split("\\n\\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="timesteps to run (default: the exported value)")
    parser.add_argument("--inputs", help=".npz with one [steps, n] 0/1 array per spike source")
    parser.add_argument("--record", default="recordings.npz", help="where to save spikes, v, gsyn (.npz)")
    parser.add_argument("--read-back", default="read_back.json",
                        help="where to save the weights/delays/shifts sPyNNaker built (.json)")
    args = parser.parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "model.json"), encoding="utf-8") as stream:
        skeleton = json.load(stream)
    with np.load(os.path.join(here, "model.npz"), allow_pickle=False) as arrays:
        model = load_model(skeleton, arrays)
    steps = int(model["steps"] if args.steps is None else args.steps)
    if steps < 1:
        parser.error(f"--steps: {steps} is out of range (allowed: >= 1)")
    spikes = {}
    if args.inputs:
        with np.load(args.inputs, allow_pickle=False) as data:
            spikes = {name: data[name] for name in data.files}
        for name, array in spikes.items():  # a cast would make a spike of any value but 0
            if array.dtype.kind not in "biuf" or not np.all((array == 0) | (array == 1)):
                parser.error(f"--inputs: {args.inputs}: {name}: values other than 0 and 1 (allowed: 0/1 or bool)")

    import pyNN.spiNNaker as sim
    sim.setup(timestep=model["dt_ms"])
    built = build(sim, model, spikes)
    record(built, model)
    sim.run(steps * model["dt_ms"])
    with open(args.read_back, "w", encoding="utf-8") as stream:
        json.dump(read_back(model, built), stream)
    try:
        data = recordings(built, model, steps)
        np.savez_compressed(args.record, **{f"{population}/{key}": value
                                            for population, values in data.items()
                                            for key, value in values.items()})
    except Exception as error:  # a virtual board records nothing
        print(f"no recordings saved: {error}")
    sim.end()


if __name__ == "__main__":
    main()
"""


def standalone_script(network_name: str) -> str:
    """Source of the standalone PyNN script: this package's model builder plus a ``main``."""
    header = (
        f'"""Run the neurodelay network {network_name!r} on SpiNNaker with sPyNNaker 1!7.4.1 '
        "(pyNN.spiNNaker).\n\nUsage: python run_on_spinnaker.py [--steps N] [--inputs spikes.npz]\n"
        "Needs model.json and model.npz beside this file, numpy and sPyNNaker (configure your board\n"
        "in ~/.spynnaker.cfg; virtual_board = True only maps the model).\n\nGenerated by "
        'neurodelay; the model builder below is neurodelay.exporters.spinnaker.pynn_model.\n"""\n'
    )
    body = inspect.getsource(pynn_model)
    body = body[body.index("from __future__") :]
    return header + body + SCRIPT_MAIN


def export_summary(model: dict[str, Any], layout: SpiNNakerModel, network: Network) -> dict[str, Any]:
    zero_weight = sum(int(np.count_nonzero(p.existing() & (p.integer_weights == 0))) for p in network.projections)
    return {
        "target": "spinnaker",
        "network": network.name,
        "dt_ms": network.dt_ms,
        "shifts": {p.name: p.shift for p in layout.populations.values()},
        "neurons_per_core": {p.name: p.neurons_per_core for p in layout.populations.values()},
        "delay_slots": {p.name: p.slots for p in layout.populations.values()},
        "delay_extension": [p.name for p in layout.populations.values() if p.needs_delay_extension],
        "synapses": {p["label"]: int(len(p["pre_index"])) for p in model["projections"]},
        "synapses_left_out_zero_weight": zero_weight,
    }


def export(
    network: Network, out_dir: str | Path, *, steps: int = 100, clip: bool = False, **options: Any
) -> ExportResult:
    """Write the sPyNNaker model of ``network`` (quantized with ``quantize_network``) to ``out_dir``;
    the result's artefact is the export summary (the content of ``export.json``).

    steps: default run length of the standalone script (timesteps). Synapses whose integer weight
    is 0 are left out (counted in ``export.json``). clip: accepted for the CLI's ``--clip``; nothing
    is ever clipped here (the quantizer's shifts fit every weight, and out-of-range delays or
    parameters raise instead).
    """
    if options:
        raise ValidationError("export options", f"unknown option(s) {', '.join(sorted(options))}", "steps, clip")
    layout = integer_model(network)
    model = model_from_layout(layout, steps)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    skeleton, arrays = pynn_model.model_arrays(model)
    summary = export_summary(model, layout, network)
    paths = {name: out / name for name in ("model.json", "model.npz", SCRIPT_NAME, "export.json")}
    write_with(paths["model.json"], lambda s: s.write(json.dumps(skeleton, indent=1).encode()))
    write_with(paths["model.npz"], lambda s: np.savez_compressed(s, **arrays))
    write_with(paths[SCRIPT_NAME], lambda s: s.write(standalone_script(network.name).encode()))
    write_with(paths["export.json"], lambda s: s.write(json.dumps(summary, indent=1).encode()))
    report = [
        f"spinnaker: ring-buffer shifts {summary['shifts']}, neurons per core {summary['neurons_per_core']}, "
        f"delay slots {summary['delay_slots']}, delay extensions for {summary['delay_extension'] or 'none'}",
        f"spinnaker: {sum(summary['synapses'].values())} synapses in {len(summary['synapses'])} PyNN "
        f"projections; {summary['synapses_left_out_zero_weight']} left out (integer weight 0)",
        f"spinnaker: run it with: cd {out} && python {SCRIPT_NAME} --steps N [--inputs spikes.npz]",
    ]
    if clip:
        report.append("spinnaker: --clip has no effect: nothing needs clipping for SpiNNaker")
    return ExportResult(
        "spinnaker",
        out,
        {
            "script": paths[SCRIPT_NAME],
            "model_json": paths["model.json"],
            "model_npz": paths["model.npz"],
            "summary": paths["export.json"],
        },
        report,
        summary,
    )
