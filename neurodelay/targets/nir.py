"""The NIR target: a graph file in the Neuromorphic Intermediate Representation, an interchange
format that nothing here runs (so it has an exporter only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..export_result import ExportResult
from ..ir import Network
from . import Target


def export(network: Network, out_dir: str | Path, **options: Any) -> ExportResult:
    """Write ``network`` as NIR: to ``out_dir`` itself when it ends in ``.nir``, else to
    ``out_dir/<network name>.nir``; options as :func:`neurodelay.interchange.nir.export`."""
    from ..interchange import nir

    out = Path(out_dir)
    path = out if out.suffix == nir.SUFFIX else out / f"{network.name}{nir.SUFFIX}"
    written = nir.export(network, path, **options)
    return ExportResult("nir", path, {"graph": path}, list(written.report), written.graph)


TARGET = Target(
    name="nir",
    description="NIR graph file (Neuromorphic Intermediate Representation): an interchange format, "
    "nothing runs it here",
    exporter=export,
    export_options=(
        (
            "--input-convention",
            {
                "dest": "convention",
                "choices": ("impulse", "per-step"),
                "default": "impulse",
                "help": "impulse: neurodelay's exact reading (default); per-step: the forward-Euler "
                "reading snnTorch and Norse run (docs/nir.md)",
            },
        ),
        (
            "--fold-uniform-delays",
            {
                "dest": "fold_uniform_delays",
                "action": "store_true",
                "help": "no Delay node for a projection whose synapses share one delay (kept in metadata)",
            },
        ),
    ),
)
