"""Encoders from real-valued features to spike rasters."""

from __future__ import annotations

import numpy as np


def time_to_first_spike(
    features: np.ndarray, *, t_min_ms: float, t_max_ms: float, dt_ms: float, steps: int
) -> tuple[np.ndarray, float]:
    """One spike per feature at ``t = t_min_ms + f * (t_max_ms - t_min_ms)``, on the step grid.

    features: float ``[n_samples, n_features]`` in [0, 1] (checked by the caller).
    Returns ``(raster, max_error_ms)``: bool ``[n_samples, steps, n_features]`` with each spike at
    step ``floor(t / dt_ms + 0.5)`` (round half up), and the largest distance in ms between a
    feature's exact time and the step it was placed on (at most ``dt_ms / 2``): the encoding's
    quantization error, reported in the dataset's metadata.
    """
    times_ms = t_min_ms + features * (t_max_ms - t_min_ms)
    spike_steps = np.floor(times_ms / dt_ms + 0.5).astype(np.int64)
    max_error_ms = float(np.max(np.abs(spike_steps * dt_ms - times_ms), initial=0.0))
    raster = np.zeros((features.shape[0], steps, features.shape[1]), dtype=bool)
    samples, channels = np.indices(features.shape)
    raster[samples, spike_steps, channels] = True
    return raster, max_error_ms
