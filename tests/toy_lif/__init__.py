"""A toy chip, ``toy_lif``, defined entirely outside neurodelay: an integer LIF with its own format.

It exists to prove docs/adding_a_target.md: registered only through the ``neurodelay.targets``
entry-point group (the test installs a dist-info naming ``toy_lif:TARGET``), it must go through
``neurodelay quantize``, ``export``, ``parity --random`` and ``study`` without any edit to neurodelay.

Its arithmetic (:mod:`.chip`), per step and population, all integers:

    I = floor(I * b / 256) + (integer weights arriving this step)
    V = floor(V * a / 256) + floor(I * c / 256) + bias
    LIF: spike where V >= theta; V := 0 there

with ``a = round(256 alpha)``, ``b = round(256 beta)``, ``c = round(256 (1 - alpha) i_scale)``, V and
I in units of ``1 / v_per_unit`` (``v_per_unit = 4096 / threshold``; 4096 for leaky integrators),
16-bit signed weights and delays of 0..15 steps.
"""

from neurodelay.targets import Target

from .chip import MAX_DELAY_STEPS, NATIVE_WEIGHT_BITS, WEIGHT_LIMIT


def integer_range(projection):
    return -WEIGHT_LIMIT, WEIGHT_LIMIT


def delay_bound(network, population):
    return MAX_DELAY_STEPS


def cores(network):
    return {population.name: 1 for population in network.neurons()}


TARGET = Target(
    name="toy_lif",
    description="toy integer LIF chip (a test plug-in)",
    quantizer="toy_lif.chip:quantize",
    formats="toy_lif.chip:FORMAT",
    native_weight_bits=NATIVE_WEIGHT_BITS,
    integer_range=integer_range,
    delay_bound=delay_bound,
    cores=cores,
    scale_option=("threshold_lsb", (1024.0, 2048.0, 4096.0)),
    refsim="toy_lif.chip:simulate",
    exporter="toy_lif.files:export",
    executors=(("toy-event-loop", "toy_lif.files:executor"),),
    parity_states=("v", "i"),
    parity_prepare="toy_lif.chip:prepare",
    parity_max_delay_steps=MAX_DELAY_STEPS,
)
