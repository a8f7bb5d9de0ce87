"""The parity harness's plug point: what each target needs beyond the registry in ``neurodelay.targets``.

A target plugs in with one :class:`ParityTarget` entry in :data:`PARITY_TARGETS`:

    prepare:     ``"module:function"`` -> ``function(network, rng) -> Network`` quantizing a float IR
                 network for the target (random campaigns vary the quantizer's options with ``rng``;
                 ``rng=None`` means the quantizer's defaults)
    max_delay_steps: the largest delay the target takes (random nets use 0, 1, this, and in between)
    states:      the state variables both the refsim mode and the target's executor record
    build_check: optional ``"module:function"`` -> ``function(cases, executor) -> report`` used when
                 the executor records nothing (``executor.records`` False, e.g. a virtual SpiNNaker
                 board): it compares what the target built instead; the report has ``lines()``,
                 ``write_json(path)``, ``mismatches`` and ``results`` like ParityReport

The reference simulator mode and the executor come from :func:`neurodelay.targets.get_target`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import ValidationError
from ..ir import Network


@dataclass(frozen=True)
class ParityTarget:
    name: str
    prepare: str
    max_delay_steps: int
    states: tuple[str, ...]
    build_check: str | None = None
    executors: tuple[tuple[str, str], ...] = ()   # (name, "module:factory") chosen by --executor

    def executor_factory(self, name: str) -> Callable:
        """The factory of the target's executor ``name`` (``factory(timeout_s=...) -> Executor``)."""
        named = dict(self.executors)
        if name not in named:
            raise ValidationError("--executor", f"{self.name} has no executor {name!r}",
                                  ", ".join(named) or "none besides the target's backend")
        module_name, function_name = named[name].split(":")
        return getattr(importlib.import_module(module_name), function_name)

    def prepare_function(self) -> Callable[[Network, np.random.Generator | None], Network]:
        module_name, function_name = self.prepare.split(":")
        return getattr(importlib.import_module(module_name), function_name)

    def build_check_function(self) -> Callable:
        module_name, function_name = str(self.build_check).split(":")
        return getattr(importlib.import_module(module_name), function_name)


PARITY_TARGETS: dict[str, ParityTarget] = {
    "loihi2": ParityTarget("loihi2", "neurodelay.parity.loihi2:prepare", 62, ("u", "v")),
    "spinnaker": ParityTarget("spinnaker", "neurodelay.parity.spinnaker:prepare", 200, ("v", "i_syn"),
                              build_check="neurodelay.parity.spinnaker:check_builds",
                              executors=(("emulated-core", "neurodelay.backends.spinnaker.emulated:executor"),)),
}


def parity_target(name: str) -> ParityTarget:
    if name not in PARITY_TARGETS:
        raise ValidationError("--target", f"no parity support for {name!r}", ", ".join(PARITY_TARGETS))
    return PARITY_TARGETS[name]
