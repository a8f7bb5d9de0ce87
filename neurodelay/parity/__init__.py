"""Target-neutral parity harness: the target's bit-accurate refsim mode against one of the target's
executors.

    check_networks(target, [(network, inputs, seed), ...], executor) -> (ParityReport, recordings)
    random_cases(target, count, seed) -> cases from seeded random networks, quantized for the target
    compare(reference, candidate) -> [Divergence]; plot_divergence(...) -> PNG

What a target compares (its states, its quantizer for random campaigns, a build check for executors
that record nothing) is named by its spec in :mod:`neurodelay.targets`.
"""

from .compare import Divergence, compare
from .harness import NetResult, ParityReport, check_networks, executor_for, random_cases

__all__ = ["Divergence", "compare", "NetResult", "ParityReport", "check_networks", "executor_for", "random_cases"]
