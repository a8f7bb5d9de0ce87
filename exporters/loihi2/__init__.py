"""Lava exporter for Loihi 2: a loihi2-quantized IR network -> checked integer model -> saved directory.

export(network, out_dir, clip=False) -> ExportResult       # `neurodelay export NET --target loihi2`
lower_network(network, clip=False) -> ExportedModel       # the same, in memory
load(out_dir) -> ExportedModel                            # numpy only (no torch, no lava)
build(model, source_data, steps) -> LavaGraph             # Lava processes (imports lava)
"""

from __future__ import annotations

from pathlib import Path

from ...export_result import ExportResult
from ...ir import Network
from ...quant.loihi2 import FORMAT, READOUT_VTH, integer_model
from .artefact import MANIFEST, PARAMETERS, ExportedModel, load, save
from .limits import check_model

__all__ = ["export", "lower_network", "load", "save", "ExportedModel", "build"]


def lower_network(network: Network, *, clip: bool = False) -> ExportedModel:
    """Encode and check ``network`` (TargetLimitError on anything Loihi 2 cannot hold, unless ``clip``)."""
    model, lines = check_model(integer_model(network), clip=clip)
    for neurons in model.neurons:
        if neurons.readout:
            limit = (READOUT_VTH << FORMAT.threshold_shift) / neurons.v_per_unit
            lines.append(
                f"readout {neurons.name!r}: a LIF with vth={READOUT_VTH}; it can spike (and reset) only "
                f"if V exceeds {limit:.6g} network units, within 63 LSB of the 24-bit saturation"
            )
    return ExportedModel(model, network.dt_ms, lines)


def export(network: Network, out_dir: str | Path, *, clip: bool = False) -> ExportResult:
    """Lower ``network`` and save it under ``out_dir``; the result's artefact is the ExportedModel."""
    exported = lower_network(network, clip=clip)
    out = save(exported, out_dir)
    return ExportResult(
        "loihi2", out, {"manifest": out / MANIFEST, "parameters": out / PARAMETERS}, list(exported.report), exported
    )


def build(*args, **kwargs):
    """Lava processes of an exported model; see :func:`neurodelay.exporters.loihi2.lower.build`."""
    from .lower import build as build_processes

    return build_processes(*args, **kwargs)
