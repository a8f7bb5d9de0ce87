"""A board-free, bit-exact SpiNNaker reference: sPyNNaker's own compiled IF_curr_exp neuron code
(``IF_curr_exp.aplx`` from the installed wheel) run under the unicorn ARM emulator.

``EmulatedCoreExecutor().run_description(EmulatedNetwork(...), {source: spikes})`` returns the
shared :class:`~neurodelay.recording.Recording` (executor ``"emulated-core"``). See
``docs/emulated_core.md`` for how it works and how to extend it to another sPyNNaker release.
"""
from .description import (CorePopulation, EmulatedNetwork, IfCurrExpParameters, SourcePopulation, SynapticMatrix,
                          to_s1615, uniform_parameters)
from .executor import EXECUTOR_NAME, EmulatedCoreExecutor, Provenance

__all__ = ["CorePopulation", "EmulatedNetwork", "IfCurrExpParameters", "SourcePopulation", "SynapticMatrix",
           "to_s1615", "uniform_parameters", "EXECUTOR_NAME", "EmulatedCoreExecutor", "Provenance"]
