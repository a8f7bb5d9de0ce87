"""The exported Loihi 2 model on disk: ``manifest.json`` (scalars, names, report) + ``parameters.npz``
(integer arrays). Loading needs numpy and neurodelay's integer model only (no torch, no lava).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...atomic import write_with
from ...errors import ValidationError
from ...quant.loihi2 import Loihi2Model, Loihi2Neurons, Loihi2Synapses

FORMAT_NAME = "neurodelay-lava-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PARAMETERS = "parameters.npz"


@dataclass
class ExportedModel:
    """An integer Loihi 2 model ready for Lava, with what the export reported (clipping, warnings)."""

    model: Loihi2Model
    dt_ms: float
    report: list[str] = field(default_factory=list)
    path: Path | None = None


def save(exported: ExportedModel, out_dir: str | Path) -> Path:
    """Write ``exported`` into ``out_dir`` (created); each file is replaced atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = exported.model
    arrays: dict[str, np.ndarray] = {}
    neurons: list[dict[str, Any]] = []
    for population in model.neurons:
        neurons.append(
            {
                "name": population.name,
                "size": population.size,
                "du": population.du,
                "dv": population.dv,
                "vth": population.vth,
                "u_per_unit": population.u_per_unit,
                "v_per_unit": population.v_per_unit,
                "readout": population.readout,
            }
        )
        arrays[f"neurons/{population.name}/bias_mant"] = population.bias_mant
        arrays[f"neurons/{population.name}/bias_exp"] = population.bias_exp
    synapses: list[dict[str, Any]] = []
    for connection in model.synapses:
        synapses.append(
            {
                "name": connection.name,
                "pre": connection.pre,
                "post": connection.post,
                "weight_exp": connection.weight_exp,
                "sign_mode": connection.sign_mode,
                "num_weight_bits": connection.num_weight_bits,
            }
        )
        arrays[f"synapses/{connection.name}/weights"] = connection.weights
        arrays[f"synapses/{connection.name}/delays_steps"] = connection.delays_steps
    manifest = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "target": "loihi2",
        "name": model.name,
        "dt_ms": exported.dt_ms,
        "sources": model.sources,
        "neurons": neurons,
        "synapses": synapses,
        "layout": "weights and delays_steps are int64 [n_pre, n_post]; Lava takes the transpose",
        "report": exported.report,
    }
    write_with(out_dir / PARAMETERS, lambda stream: np.savez_compressed(stream, **arrays))
    write_with(out_dir / MANIFEST, lambda stream: stream.write(json.dumps(manifest, indent=2).encode()))
    exported.path = out_dir
    return out_dir


def load(path: str | Path) -> ExportedModel:
    """Read an export directory written by :func:`save`."""
    path = Path(path)
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise ValidationError(
            "(file)", f"not a Lava export ({error})", f"a directory with {MANIFEST}", file=path / MANIFEST
        ) from None
    if manifest.get("format") != FORMAT_NAME or manifest.get("version") != FORMAT_VERSION:
        raise ValidationError(
            "format",
            f"{manifest.get('format')!r} version {manifest.get('version')!r}",
            f"{FORMAT_NAME} version {FORMAT_VERSION}",
            file=path / MANIFEST,
        )
    try:
        with np.load(path / PARAMETERS, allow_pickle=False) as data:
            arrays = {key: data[key].astype(np.int64) for key in data.files}
        neurons = tuple(
            Loihi2Neurons(
                n["name"],
                int(n["size"]),
                int(n["du"]),
                int(n["dv"]),
                int(n["vth"]),
                arrays[f"neurons/{n['name']}/bias_mant"],
                arrays[f"neurons/{n['name']}/bias_exp"],
                float(n["u_per_unit"]),
                float(n["v_per_unit"]),
                bool(n["readout"]),
            )
            for n in manifest["neurons"]
        )
        synapses = tuple(
            Loihi2Synapses(
                s["name"],
                s["pre"],
                s["post"],
                arrays[f"synapses/{s['name']}/weights"],
                arrays[f"synapses/{s['name']}/delays_steps"],
                int(s["weight_exp"]),
                s["sign_mode"],
                int(s["num_weight_bits"]),
            )
            for s in manifest["synapses"]
        )
    except (OSError, ValueError, KeyError) as error:
        raise ValidationError(
            "(file)",
            f"incomplete Lava export ({type(error).__name__}: {error})",
            f"{MANIFEST} and {PARAMETERS} written together by neurodelay export",
            file=path,
        ) from None
    model = Loihi2Model(manifest["name"], {k: int(v) for k, v in manifest["sources"].items()}, neurons, synapses)
    return ExportedModel(model, float(manifest["dt_ms"]), list(manifest.get("report", [])), path)
