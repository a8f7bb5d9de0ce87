"""neurodelay's backend-neutral network IR: typed nodes, validation, the file format, a graph view.

The dynamics and the latency convention (a spike at step t through delay d reaches the target at
step t + 1 + d) are defined once, in :mod:`neurodelay.ir.nodes`.
"""

from .fileformat import SCHEMA_VERSION, SUFFIX, load, save
from .network import Network, as_vector, decays, memory_bytes
from .nodes import LIF, LeakyIntegrator, Population, Projection, SpikeSource, WeightFormat

__all__ = [
    "Network",
    "SpikeSource",
    "LIF",
    "LeakyIntegrator",
    "Population",
    "Projection",
    "WeightFormat",
    "save",
    "load",
    "SUFFIX",
    "SCHEMA_VERSION",
    "decays",
    "as_vector",
    "memory_bytes",
]
