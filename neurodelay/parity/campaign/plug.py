"""What a target tells the campaign: how far its random networks may reach and which of its own
corner cases the campaign measures (``Target.parity_campaign`` names one :class:`CampaignPlug`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

CoverageFunction = Callable[[Any, dict, Any], set]
"""``f(quantized network, inputs {source: bool [1, steps, n]}, reference Recording) -> {corner}``."""


@dataclass(frozen=True)
class CampaignPlug:
    """A target's campaign settings.

    max_delay_steps: the largest delay (steps) the campaign draws; the target's own bound for a
        population (``Target.delay_bound``) caps it further.
    refractory: whether the target holds a refractory period (the campaign then draws 0..8 steps).
    wide_sizes: ``(low, high)`` neurons of the occasional wide population (None: never drawn);
        a wide population may change the layout a chip chooses (fewer delay slots per core, say).
    corners: the target-specific corner names ``coverage`` may report (besides the common ones).
    coverage: the target's corner measurement (:data:`CoverageFunction`), None for none.
    prepare: ``f(float network, rng, executor name) -> quantized network`` for campaign networks
        (None: the target's ``parity_prepare``), e.g. to pin a placement that reaches a layout corner.
    unsupported_corners: per executor name, corners that executor cannot run (it rejects such
        networks), left out of its campaign's coverage.
    executor_options: per executor name, options for building it in a campaign worker.
    nets_per_run: per executor name, how many networks share one executor run (start-up cost).
    """

    max_delay_steps: int
    refractory: bool = False
    wide_sizes: tuple[int, int] | None = None
    corners: tuple[str, ...] = ()
    coverage: CoverageFunction | None = None
    prepare: Callable[[Any, Any, str], Any] | None = None
    unsupported_corners: dict[str, tuple[str, ...]] = field(default_factory=dict)
    executor_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    nets_per_run: dict[str, int] = field(default_factory=dict)
