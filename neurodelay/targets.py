"""Registry of deployment targets. The core finds each target's exporter and backend by module name,
so it never imports a target package itself (lava, spynnaker and pyNN stay in their folders).

Every target folder has the same shape:

    exporters/<folder>/   lower a quantized Network to the target's model or files
        export(network, out_dir, **options) -> exported artefact (saved under out_dir)
    backends/<folder>/    run an exported model and return a neurodelay.recording.Recording
        executor(**options) -> neurodelay.executor.Executor

``refsim_mode`` names the reference simulator's bit-accurate mode for the target; file-format targets
(``nir``) have neither a backend nor a mode (empty strings).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from .errors import NeurodelayError, ValidationError


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    exporter_module: str
    backend_module: str
    refsim_mode: str


TARGETS: dict[str, Target] = {
    "loihi2": Target("loihi2", "Intel Loihi 2 through Lava (lava-nc)", "neurodelay.exporters.lava",
                     "neurodelay.backends.lava", "loihi2"),
    "spinnaker": Target("spinnaker", "SpiNNaker 1 through sPyNNaker / PyNN", "neurodelay.exporters.spinnaker",
                        "neurodelay.backends.spinnaker", "spinnaker"),
    "nir": Target("nir", "NIR graph file (Neuromorphic Intermediate Representation): an interchange format, "
                  "nothing runs it here", "neurodelay.interchange.nir", "", ""),
}


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise ValidationError("--target", f"unknown target {name!r}", ", ".join(TARGETS))
    return TARGETS[name]


def _import(module_name: str, target: str, role: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise NeurodelayError(f"the {role} for target {target!r} cannot be imported ({error}); "
                              "run the project's set-up (python3 dev.py setup)") from error


def load_exporter(name: str) -> ModuleType:
    target = get_target(name)
    return _import(target.exporter_module, name, "exporter")


def load_backend(name: str) -> ModuleType:
    target = get_target(name)
    if not target.backend_module:
        raise NeurodelayError(f"target {name!r} is a file format ({target.description}); it has no backend")
    return _import(target.backend_module, name, "backend")
