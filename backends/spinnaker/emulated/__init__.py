"""A board-free, bit-exact SpiNNaker reference: sPyNNaker's own compiled IF_curr_exp neuron code
(``IF_curr_exp.aplx`` from the installed wheel) run under the unicorn ARM emulator.

``EmulatedCoreExecutor().run_description(EmulatedNetwork(...), {source: spikes})`` returns the
shared :class:`~neurodelay.recording.Recording` (executor ``"emulated-core"``). See
``docs/emulated_core.md`` for how it works and how to extend it to another sPyNNaker release.
"""

from .description import (
    CorePopulation,
    EmulatedNetwork,
    IfCurrExpParameters,
    SourcePopulation,
    SynapticMatrix,
    to_s1615,
    uniform_parameters,
)
from .executor import EXECUTOR_NAME, EmulatedCoreExecutor, Provenance


def executor(**options) -> EmulatedCoreExecutor:
    """The emulated-core executor (``neurodelay parity --executor emulated-core``); options as
    :class:`EmulatedCoreExecutor` (``integers_from``, ``timeout_s``, ``nets_per_build``)."""
    return EmulatedCoreExecutor(**options)


__all__ = [
    "executor",
    "CorePopulation",
    "EmulatedNetwork",
    "IfCurrExpParameters",
    "SourcePopulation",
    "SynapticMatrix",
    "to_s1615",
    "uniform_parameters",
    "EXECUTOR_NAME",
    "EmulatedCoreExecutor",
    "Provenance",
]
