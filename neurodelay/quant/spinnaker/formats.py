"""SpiNNaker 1 (sPyNNaker 1!7.4.1, ``IF_curr_exp``): the integer format table (docs/spinnaker.md §S1, §S3, §S5)."""

from __future__ import annotations

from dataclasses import dataclass

TARGET = "spinnaker"
SPYNNAKER_VERSION = "1!7.4.1"

# ----- the format table ----------------------------------------------------------------------
S1615_FRACTION_BITS = 15
S1615_ONE = 1 << S1615_FRACTION_BITS
S1615_MIN_BITS = -(1 << 31)
S1615_MAX_BITS = (1 << 31) - 1
U032_ONE_BITS = 1 << 32
WEIGHT_WORD_MAX = 0xFFFF  # 16-bit unsigned weight and ring-buffer entry
WEIGHT_MANTISSA_BITS = 17  # the IR stores the sign with the 16-bit magnitude
MAX_RING_BUFFER_BITS = 14  # atom bits + synapse-type bits + delay bits <= 14
SYNAPSE_TYPE_BITS = 1  # IF_curr_exp: excitatory (0), inhibitory (1)
EXCITATORY, INHIBITORY = 0, 1
RECEPTOR_TYPES = ("excitatory", "inhibitory")
DELAY_EXTENSION_STAGES = 8  # DelayExtensionVertex.MAX_SLOTS
DEFAULT_NEURONS_PER_CORE = 256
MIN_AUTO_NEURONS_PER_CORE = 16
MAX_SHIFT = 16  # weight unit 2 nA; words << 16 must stay a positive int32
EXP_SATURATION_HIGH_BITS = 363408  # expk/expulr saturate above this argument (s16.15 bits)
EXP_ZERO_BELOW_BITS = -340695  # and return 0 below this one
LEAKY_INTEGRATOR_THRESHOLD_MV = S1615_MAX_BITS / S1615_ONE


@dataclass(frozen=True)
class FormatTable:
    """Human-readable summary of the SpiNNaker format, for reports and ``neurodelay info``."""

    neuron_model: str = "IF_curr_exp (sPyNNaker 1!7.4.1, combined neuron+synapse core)"
    state_format: str = "s16.15 int32 (LSB 2^-15 mV / nA), wraps modulo 2^32"
    factor_format: str = "u0.32 (synaptic decay and init)"
    weight_format: str = "16-bit unsigned per synapse, sign from receptor type; unit 2^(shift-15) nA"
    ring_buffer: str = "uint16 per (delay slot, synapse type, neuron), saturating at 65535"
    delays: str = "1..D steps on core (D = 2^(14 - atom bits - 1) at most), up to 9 D with a delay extension"
    membrane_multiply: str = "floor (spynnaker 1!7.4.1 binary); round-to-nearest in later sources"


FORMAT = FormatTable()


def word_limit(shift: int) -> int:
    """Largest weight word (and slot sum) usable at ``shift``: 65535, and ``word << shift`` must stay
    a positive int32 (at shift 16 that leaves 32767)."""
    return min(WEIGHT_WORD_MAX, S1615_MAX_BITS >> shift)


def weight_unit_nA(shift: int) -> float:
    """nA of one 16-bit weight unit under ring-buffer ``shift``: 2^(shift - 15)."""
    return 2.0 ** (shift - S1615_FRACTION_BITS)
