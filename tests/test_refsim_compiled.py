"""The compiled refsim engine (numba) against the numpy engine, the oracle, in both integer modes:
every recorded array (spikes, u, v; v, i_syn, i_exc, i_inh), the scales, the executor name and the
SpiNNaker saturation counters must be identical, on the networks CI's parity tests use: the 200
campaign draws per target of tests/test_parity_campaign.py (the campaign distribution, quantized as
the campaign runner does; Loihi 2 also with every weight exponent lowered below 0), the harness's
random networks, the emulated-core parity networks and the hand-made Loihi 2 corner cases. The
corners are measured on the runs, not assumed (u wrap, v saturation, refractoriness, ring-buffer
saturation, delay 0, the maximum delay, delay extension, negative weight exponents). The mutation
checks show the comparison fails on a one-spike change of the input, and that the compared runs spike.

The two engines share only the integer model (quantizer output); the time loops are separate code.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neurodelay import refsim
from neurodelay.errors import NeurodelayError, ValidationError
from neurodelay.parity import random_cases
from neurodelay.parity.campaign.distribution import STREAM, draw_case
from neurodelay.parity.campaign.runner import Case, campaign_plug, corners, corners_of, top_delays
from neurodelay.quant import loihi2 as quant_loihi2
from neurodelay.quant import spinnaker as quant_spinnaker
from neurodelay.recording import Recording
from neurodelay.refsim import loihi2 as refsim_loihi2
from neurodelay.refsim import spinnaker as refsim_spinnaker
from neurodelay.targets import get_target

CI_SEEDS = range(200)  # the 200 campaign draws of tests/test_parity_campaign.py
ENGINES = ("numpy", "compiled")
EXECUTOR = {"loihi2": "lava-fixed_pt", "spinnaker": "spynnaker"}  # spynnaker: wide populations may be pinned


def differences(reference: Recording, candidate: Recording) -> list[str]:
    """Every way ``candidate`` differs from ``reference`` (empty: identical)."""
    found = []
    if (reference.executor, reference.dt_ms, reference.steps) != (candidate.executor, candidate.dt_ms, candidate.steps):
        found.append(
            f"header {reference.executor, reference.dt_ms, reference.steps} vs {candidate.executor, candidate.dt_ms, candidate.steps}"
        )
    if list(reference.populations) != list(candidate.populations):
        return found + [f"populations {list(reference.populations)} vs {list(candidate.populations)}"]
    for name, expected in reference.populations.items():
        got = candidate.populations[name]
        arrays = {"spikes": (expected.spikes, got.spikes)}
        if list(expected.states) != list(got.states) or expected.state_scales != got.state_scales:
            found.append(f"{name}: states {list(expected.states)} vs {list(got.states)} or their scales")
            continue
        arrays |= {key: (expected.states[key], got.states[key]) for key in expected.states}
        for key, (a, b) in arrays.items():
            if a.dtype != b.dtype or a.shape != b.shape or not np.array_equal(a, b):
                found.append(f"{name}.{key}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}, equal: {np.array_equal(a, b)}")
    return found


def with_lower_exponents(model: quant_loihi2.Loihi2Model, by: int) -> quant_loihi2.Loihi2Model:
    """``model`` with every connection's weight exponent lowered by ``by`` (Lava's range reaches -8)."""
    synapses = tuple(dataclasses.replace(s, weight_exp=s.weight_exp - by) for s in model.synapses)
    return dataclasses.replace(model, synapses=synapses)


def run_both(target: str, network, inputs) -> tuple[Recording, Recording, dict | None]:
    """``(numpy, compiled, saturation counters or None)``; the counters must agree too."""
    if target == "loihi2":
        model = quant_loihi2.integer_model(network)
        return (
            refsim_loihi2.simulate_model(model, inputs, engine="numpy"),
            refsim_loihi2.simulate_model(model, inputs, engine="compiled"),
            None,
        )
    layout = quant_spinnaker.integer_model(network)
    oracle, expected = refsim_spinnaker.simulate_model(layout, inputs, engine="numpy")
    compiled, counted = refsim_spinnaker.simulate_model(layout, inputs, engine="compiled")
    assert counted == expected, (network.name, counted, expected)
    return oracle, compiled, expected.ring_buffer_saturations


def campaign_case(target: str, seed: int):
    """A campaign network exactly as the campaign runner quantizes it, or None where it is rejected."""
    spec = get_target(target)
    plug = campaign_plug(spec)
    network, inputs, draw = draw_case(seed, plug, spec.resolve("delay_bound"))
    rng = np.random.default_rng([STREAM, seed, 1])
    try:
        quantized = (
            plug.prepare(network, rng, EXECUTOR[target]) if plug.prepare else spec.prepare_for_parity(network, rng)
        )
    except NeurodelayError:  # the runner records these as rejected (their share is bounded below)
        return None
    return Case(seed, quantized, inputs, draw, top_delays(spec, plug, network))


def layout_features(target: str, network) -> set[str]:
    """Corners of the integer layout the engines take different code paths for."""
    found = set()
    if target == "loihi2":
        for synapses in quant_loihi2.integer_model(network).synapses:
            found.add("non_negative_weight_exp" if synapses.weight_exp >= 0 else "negative_weight_exp")
            found |= {"delay_0"} if np.any(synapses.delays_steps == 0) else set()
            found |= {"delay_62"} if np.any(synapses.delays_steps == 62) else set()
    else:
        layout = quant_spinnaker.integer_model(network)
        for synapses in layout.synapses:
            slots = layout.populations[synapses.post_population].slots
            stage, _ = quant_spinnaker.split_delay(synapses.delay_steps, slots)
            found |= {"delay_extension_stage"} if stage.max() > 0 else set()
            found |= {"delay_0"} if np.any(synapses.delay_steps == 1) else set()
    return found


def sweep(target: str, seeds) -> dict[str, int]:
    """Compare the engines on the campaign draws of ``seeds``; returns counts of what was exercised."""
    spec, plug = get_target(target), campaign_plug(get_target(target))
    seen: dict[str, int] = {"compared": 0, "spikes": 0, "saturations": 0}
    for seed in seeds:
        case = campaign_case(target, seed)
        if case is None:
            continue
        oracle, compiled, saturations = run_both(target, case.network, case.inputs)
        assert differences(oracle, compiled) == [], (target, seed, differences(oracle, compiled)[:3])
        if target == "loihi2":  # the quantizer's exponents are >= 0; the floor-shift path needs < 0
            lowered = with_lower_exponents(quant_loihi2.integer_model(case.network), 1 + seed % 4)
            lowered_runs = [refsim_loihi2.simulate_model(lowered, case.inputs, engine=e) for e in ENGINES]
            assert differences(*lowered_runs) == [], (target, seed, "lowered exponents")
            seen["negative_weight_exp"] = seen.get("negative_weight_exp", 0) + 1
        case.reference = oracle
        for corner in corners(spec, plug, case, EXECUTOR[target]) + sorted(layout_features(target, case.network)):
            seen[corner] = seen.get(corner, 0) + 1
        seen["compared"] += 1
        seen["spikes"] += int(sum(p.spikes.sum() for n, p in oracle.populations.items() if n != "input"))
        seen["saturations"] += sum(saturations.values()) if saturations else 0
    return seen


@pytest.mark.parametrize("target", ["loihi2", "spinnaker"])
def test_campaign_networks_are_bit_identical(target):
    seen = sweep(target, CI_SEEDS)
    assert seen["compared"] >= 0.9 * len(CI_SEEDS), seen
    assert seen["spikes"] > 10_000, seen
    wanted = set(corners_of(get_target(target), EXECUTOR[target])) | {"delay_0"}
    wanted |= {"negative_weight_exp", "non_negative_weight_exp", "delay_62"} if target == "loihi2" else set()
    wanted |= {"delay_extension_stage"} if target == "spinnaker" else set()
    assert wanted <= set(seen), sorted(wanted - set(seen))
    if target == "spinnaker":
        assert seen["saturations"] > 0


@pytest.mark.parametrize("target", ["loihi2", "spinnaker"])
def test_the_harness_random_networks_are_bit_identical(target):
    for network, inputs, seed in random_cases(target, 40, 0):
        oracle, compiled, _ = run_both(target, network, inputs)
        assert differences(oracle, compiled) == [], (target, seed)


def test_the_emulated_core_parity_networks_are_bit_identical():
    """tests/test_emulated_parity.py's 100 networks (batch 2, both shift policies, refractoriness)."""
    from test_emulated_parity import N_NETWORKS, random_case

    saturated = 0
    for seed in range(N_NETWORKS):
        network, inputs = random_case(seed)
        oracle, compiled, saturations = run_both("spinnaker", network, inputs)
        assert differences(oracle, compiled) == [], seed
        saturated += sum(saturations.values()) > 0
    assert saturated > 0


def test_the_hand_made_loihi2_corner_cases_are_bit_identical():
    """tests/test_loihi2_lava.py's cases (delays 0, 1, 2, 62, a loop, u wrap, the u boundaries, v
    saturation), also with every weight exponent lowered by 3 (the floor-shift path) and batch 3."""
    from test_loihi2_lava import CASES

    for name, (model, spikes) in CASES.items():
        batched = {next(iter(model.sources)): np.concatenate([spikes, np.roll(spikes, 3, axis=1), spikes[:, ::-1]])}
        for variant in (model, with_lower_exponents(model, 3)):
            oracle = refsim_loihi2.simulate_model(variant, batched, engine="numpy")
            compiled = refsim_loihi2.simulate_model(variant, batched, engine="compiled")
            assert differences(oracle, compiled) == [], name


def test_the_nearest_membrane_rounding_is_bit_identical():
    for network, inputs, seed in random_cases("spinnaker", 10, 100):
        layout = quant_spinnaker.integer_model(network)
        oracle, _ = refsim_spinnaker.simulate_model(layout, inputs, membrane_rounding="nearest", engine="numpy")
        compiled, _ = refsim_spinnaker.simulate_model(layout, inputs, membrane_rounding="nearest", engine="compiled")
        assert oracle.executor == "refsim-spinnaker-nearest"
        assert differences(oracle, compiled) == [], seed


@pytest.mark.parametrize("target", ["loihi2", "spinnaker"])
def test_mutation_one_moved_input_spike_is_caught(target):
    """The comparison is not vacuous: the compared runs spike, and moving one input spike one step
    later (the compiled engine on it) makes ``differences`` report a change in nearly every network
    (not in all: a moved spike may meet only zero weights)."""
    spiking = caught = 0
    for network, inputs, seed in random_cases(target, 10, 200):
        oracle, _, _ = run_both(target, network, inputs)
        spiking += sum(p.spikes.sum() for n, p in oracle.populations.items() if n != "input") > 0
        spikes = next(iter(inputs.values())).copy()
        batch, step, neuron = np.argwhere(spikes[:, :-1] & ~spikes[:, 1:])[0]
        spikes[batch, step, neuron], spikes[batch, step + 1, neuron] = False, True
        moved = refsim.simulate(network, {next(iter(inputs)): spikes}, mode=target, engine="compiled")
        caught += bool(differences(oracle, moved))
    assert spiking >= 7 and caught >= 8, (spiking, caught)


def test_the_public_entry_point_defaults_to_the_compiled_engine_and_names_the_choices(monkeypatch):
    from neurodelay.refsim import loihi2_compiled

    network, inputs, _ = random_cases("loihi2", 1, 7)[0]
    compiled_runs = []
    original = loihi2_compiled.simulate_model
    monkeypatch.setattr(loihi2_compiled, "simulate_model", lambda *a: compiled_runs.append(a) or original(*a))
    default = refsim.simulate(network, inputs, mode="loihi2")
    assert len(compiled_runs) == 1
    oracle = refsim.simulate(network, inputs, mode="loihi2", engine="numpy")
    assert refsim.RefsimExecutor("loihi2", engine="numpy").run(network, inputs).steps == oracle.steps
    assert len(compiled_runs) == 1 and differences(oracle, default) == []
    with pytest.raises(ValidationError, match="engine.*'fortran'.*compiled, numpy"):
        refsim.simulate(network, inputs, mode="loihi2", engine="fortran")
    with pytest.raises(ValidationError, match="float mode has no 'compiled' engine"):
        refsim.simulate(network, inputs, mode="float", engine="compiled")


def test_without_a_writable_cache_the_kernels_are_compiled_per_process(monkeypatch):
    """numba refuses ``cache=True`` with a RuntimeError where no cache directory is writable (a
    read-only install); the engines' decorator then compiles without a cache instead of failing."""
    from neurodelay.refsim import jit

    calls = []

    def njit(**options):
        calls.append(options)
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'f.py'")
        return lambda function: ("compiled", function)

    monkeypatch.setattr(jit, "njit", njit)
    assert jit.compiled(len) == ("compiled", len)
    assert calls == [{"cache": True, "nogil": True}, {"nogil": True}]
