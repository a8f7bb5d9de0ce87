"""Target-neutral parity harness: the target's bit-accurate refsim mode against the target's executor.

    check_networks(target, [(network, inputs, seed), ...], executor) -> (ParityReport, recordings)
    random_cases(target, count, seed) -> cases from seeded random networks, quantized for the target
    compare(reference, candidate) -> [Divergence]; plot_divergence(...) -> PNG

Targets plug in through :data:`neurodelay.parity.targets.PARITY_TARGETS`.
"""
from .compare import Divergence, compare
from .harness import NetResult, ParityReport, check_networks, executor_for, random_cases
from .targets import PARITY_TARGETS, ParityTarget, parity_target

__all__ = ["Divergence", "compare", "NetResult", "ParityReport", "check_networks", "executor_for",
           "random_cases", "PARITY_TARGETS", "ParityTarget", "parity_target"]
