"""Loihi 2's integer formats as Lava 0.10.0's bit-accurate models see them (docs/loihi2.md §L1, §L2)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ValidationError

TARGET = "loihi2"


@dataclass(frozen=True)
class Loihi2Format:
    """Loihi 2's integer formats as seen by Lava 0.10.0's bit-accurate CPU models.

    Weights: an 8-bit magnitude with a per-connection sign mode. Lava clips to
    ``weight_range[sign_mode]`` and then drops ``8 - num_weight_bits (+1 if mixed)`` low bits
    (a floor), so with 8 weight bits mixed-sign connections hold even values only. The delivered
    value spans [-256, 255], hence ``WeightFormat.mantissa_bits = 9`` in the IR.
    weight_exp: shared per connection, applied to the per-step sum; Lava's CPU model accepts any
    value, the hardware range is about [-8, 7]; the quantizer uses [0, 7] because a negative
    exponent floors the *sum* in Lava but each synapse on the chip.
    du, dv: 12-bit unsigned, in units of 1/4096 (u decays by (4095 - du)/4096: the "+1" of Lava's
    ds_offset; v by (4096 - dv)/4096). One value per population.
    u, v: 24-bit state; u wraps once (not modulo), v saturates at +-(2**23 - 1).
    vth: 17-bit unsigned mantissa, compared as ``v > vth << 6``. One value per population.
    bias: 13-bit signed mantissa and a 3-bit exponent, added to v unshifted (not x64).
    delays: Lava's DelayDense accepts 0..63 (6 bits, raising on > 63 only inside a worker, where
    it hangs); lava-dl's netx clamps to 62 and refuses 63 (``num_delay_bits``), so 62 is the
    largest delay that every Loihi 2 tool chain accepts. Latency: a spike at step t through
    delay d reaches the target's u at step t + 1 + d, exactly the IR's convention.
    """

    weight_magnitude_bits: int = 8
    weight_mantissa_bits_ir: int = 9
    weight_range: tuple[tuple[str, int, int], ...] = (
        ("mixed", -256, 255),
        ("excitatory", 0, 255),
        ("inhibitory", -255, 0),
    )
    weight_exp_range: tuple[int, int] = (-8, 7)
    quantizer_weight_exp_range: tuple[int, int] = (0, 7)
    decay_range: tuple[int, int] = (0, 4095)
    decay_unity: int = 4096
    state_bits: int = 24
    vth_range: tuple[int, int] = (0, 2**17 - 1)
    bias_mant_range: tuple[int, int] = (-4096, 4095)
    bias_exp_range: tuple[int, int] = (0, 7)
    delay_range: tuple[int, int] = (0, 62)
    activation_shift: int = 6
    threshold_shift: int = 6
    max_abs_activation: int = 2**25 - 1

    @property
    def state_limit(self) -> int:
        """2**23: u wraps above it, v saturates at one less."""
        return 2 ** (self.state_bits - 1)

    def weight_limits(self, sign_mode: str) -> tuple[int, int]:
        for mode, low, high in self.weight_range:
            if mode == sign_mode:
                return low, high
        raise ValidationError("sign_mode", f"unknown sign mode {sign_mode!r}", "mixed, excitatory, inhibitory")


FORMAT = Loihi2Format()
SIGN_MODES = ("mixed", "excitatory", "inhibitory")
DEFAULT_VTH = 2**13
"""Default threshold mantissa: v reaches threshold at 2**19, leaving 16 thresholds of headroom to
the 24-bit saturation."""
VTH_METADATA = "loihi2_vth"
"""Population metadata key holding the threshold mantissa the quantizer chose (read by :func:`integer_model`
only for a population without incoming projections, whose scale cannot come from a WeightFormat)."""
READOUT_VTH = FORMAT.vth_range[1]
"""Leaky-integrator readouts become LIFs with the largest threshold; v can only exceed 64 * READOUT_VTH
(8388544) inside 63 LSBs of the saturation value, which the quantization report states in network units."""
