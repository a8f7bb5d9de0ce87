"""Targeted Loihi 2 cases run in Lava and in the refsim: latency of delays 0, 1, 2 and the maximum,
recurrent loops, u wrap and v saturation. Each expected value is also computed by hand, so a case
pins both implementations, not only their agreement. All cases share one Lava child process.
"""

import numpy as np
import pytest

from neurodelay.backends.loihi2 import executor
from neurodelay.exporters.loihi2 import ExportedModel
from neurodelay.quant.loihi2 import Loihi2Model, Loihi2Neurons, Loihi2Synapses
from neurodelay.refsim.loihi2 import simulate_model

STEPS = 70
FIRE_AT = 2  # the source spikes at IR step 2


def neurons(name, size=1, du=4095, dv=4095, vth=131071, bias_mant=0, bias_exp=0):
    return Loihi2Neurons(
        name, size, du, dv, vth, np.full(size, bias_mant, np.int64), np.full(size, bias_exp, np.int64), 1.0, 1.0
    )


def synapses(name, pre, post, weights, delays, weight_exp=0, sign_mode="excitatory"):
    weights = np.atleast_2d(np.array(weights, np.int64))
    return Loihi2Synapses(
        name,
        pre,
        post,
        weights,
        np.broadcast_to(np.array(delays, np.int64), weights.shape).copy(),
        weight_exp,
        sign_mode,
    )


def source_spikes(n=1, at=(FIRE_AT,)):
    spikes = np.zeros((1, STEPS, n), bool)
    spikes[0, list(at)] = True
    return spikes


CASES = {}
for delay in (0, 1, 2, 62):
    CASES[f"delay_{delay}"] = (
        Loihi2Model(f"delay_{delay}", {"in": 1}, (neurons("n"),), (synapses("p", "in", "n", [[5]], delay),)),
        source_spikes(),
    )
# A spikes at 3 (input at 2, latency 1); A -> A with delay 3 reaches A's u at 3 + 1 + 3 = 7;
# A -> B with delay 0 at 4; B (spiking at 4) -> A with delay 2 at 4 + 1 + 2 = 7 as well.
CASES["loop"] = (
    Loihi2Model(
        "loop",
        {"in": 1},
        (neurons("a", vth=1), neurons("b", vth=1)),
        (
            synapses("in_a", "in", "a", [[100]], 0),
            synapses("a_a", "a", "a", [[1]], 3),
            synapses("a_b", "a", "b", [[100]], 0),
            synapses("b_a", "b", "a", [[-4]], 2, sign_mode="inhibitory"),
        ),
    ),
    source_spikes(),
)
# u wrap: 5 x (255 << 7) -> a << 6 = 10444800 -> u = -6332416; the inhibitory mirror wraps to +6332416
CASES["wrap"] = (
    Loihi2Model(
        "wrap",
        {"in": 5},
        (neurons("up", dv=0), neurons("down", dv=0)),
        (
            synapses("to_up", "in", "up", np.full((5, 1), 255), 0, 7),
            synapses("to_down", "in", "down", np.full((5, 1), -255), 0, 7, "inhibitory"),
        ),
    ),
    source_spikes(5, at=(FIRE_AT, FIRE_AT + 1)),
)
# exact boundaries: +2**23 stays, -2**23 becomes +2**23
CASES["boundary"] = (
    Loihi2Model(
        "boundary",
        {"in": 8},
        (neurons("up"), neurons("down")),
        (
            synapses("to_up", "in", "up", np.full((8, 1), 128), 0, 7),
            synapses("to_down", "in", "down", np.full((8, 1), -128), 0, 7, "inhibitory"),
        ),
    ),
    source_spikes(8),
)
# v saturation from below: u = -6144000 on two steps, v = -6144000 then -(2**23 - 1)
CASES["saturation"] = (
    Loihi2Model(
        "saturation",
        {"in": 3},
        (neurons("n", dv=0, vth=100),),
        (synapses("p", "in", "n", np.full((3, 1), -250), 0, 7, "inhibitory"),),
    ),
    source_spikes(3, at=(FIRE_AT, FIRE_AT + 1)),
)


runs_child: list[int] = []


@pytest.fixture(scope="module")
def runs():
    names = list(CASES)
    with executor(workers=1) as lava:
        recordings = lava.run_exported([(ExportedModel(CASES[n][0], 1.0), {"in": CASES[n][1]}) for n in names])
    runs_child[:] = [lava.last_child_pid]
    return {
        name: (recording, simulate_model(CASES[name][0], {"in": CASES[name][1]}))
        for name, recording in zip(names, recordings)
    }


def test_no_lava_process_outlives_the_run(runs):
    from test_loihi2_export import live_members

    assert live_members(runs_child[0]) == []


def both(runs, case, population, quantity):
    lava, reference = runs[case]
    pick = (
        (lambda r: r.populations[population].spikes[0, :, 0])
        if quantity == "spikes"
        else (lambda r: r.populations[population].states[quantity][0, :, 0])
    )
    return pick(lava), pick(reference)


@pytest.mark.parametrize("delay", [0, 1, 2, 62])
def test_latency_is_t_plus_one_plus_d(runs, delay):
    for u in both(runs, f"delay_{delay}", "n", "u"):
        assert np.flatnonzero(u).tolist() == [FIRE_AT + 1 + delay]
        assert u[FIRE_AT + 1 + delay] == 5 * 64


def test_recurrent_loops(runs):
    for spikes_a, spikes_b, u_a in zip(
        both(runs, "loop", "a", "spikes"), both(runs, "loop", "b", "spikes"), both(runs, "loop", "a", "u")
    ):
        assert np.flatnonzero(spikes_a).tolist() == [3]
        assert np.flatnonzero(spikes_b).tolist() == [4]
        assert u_a[3] == 6400 and u_a[7] == (1 - 4) * 64 and np.count_nonzero(u_a) == 2


def test_u_wraps(runs):
    for up, down in zip(both(runs, "wrap", "up", "u"), both(runs, "wrap", "down", "u")):
        assert up[FIRE_AT + 1] == -6332416 and down[FIRE_AT + 1] == 6332416
    for up, down in zip(both(runs, "boundary", "up", "u"), both(runs, "boundary", "down", "u")):
        assert up[FIRE_AT + 1] == 2**23 and down[FIRE_AT + 1] == 2**23


def test_v_saturates(runs):
    for v in both(runs, "saturation", "n", "v"):
        assert v[FIRE_AT + 1] == -6144000 and v[FIRE_AT + 2] == -(2**23 - 1)
    # the positive mirror: saturating at 2**23 - 1 exceeds 131071 << 6, so v spikes and resets
    for spikes, v in zip(both(runs, "wrap", "down", "spikes"), both(runs, "wrap", "down", "v")):
        assert np.flatnonzero(spikes).tolist() == [FIRE_AT + 2] and v[FIRE_AT + 2] == 0


def test_every_case_matches_lava_exactly(runs):
    for name, (lava, reference) in runs.items():
        for population, recorded in reference.populations.items():
            other = lava.populations[population]
            assert np.array_equal(recorded.spikes, other.spikes), (name, population)
            for state in recorded.states:
                assert np.array_equal(recorded.states[state], other.states[state]), (name, population, state)
