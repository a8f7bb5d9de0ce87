"""The refsim's Loihi 2 mode against traces computed by hand from Lava's documented arithmetic."""

import numpy as np

from neurodelay.quant.loihi2 import Loihi2Model, Loihi2Neurons, Loihi2Synapses
from neurodelay.refsim.loihi2 import simulate_model


def single(du, dv, vth, weights, delays=None, weight_exp=0, sign_mode="mixed", bias_mant=0, bias_exp=0, n_pre=None):
    weights = np.atleast_2d(np.array(weights, np.int64))
    n_pre, n_post = weights.shape
    delays = np.zeros_like(weights) if delays is None else np.atleast_2d(np.array(delays, np.int64))
    neurons = Loihi2Neurons(
        "n", n_post, du, dv, vth, np.full(n_post, bias_mant, np.int64), np.full(n_post, bias_exp, np.int64), 1.0, 1.0
    )
    return Loihi2Model(
        "hand", {"in": n_pre}, (neurons,), (Loihi2Synapses("p", "in", "n", weights, delays, weight_exp, sign_mode),)
    )


def run(model, spikes):
    spikes = np.array(spikes, bool)
    if spikes.ndim == 2:
        spikes = spikes[None]
    recording = simulate_model(model, {"in": spikes})
    population = recording.populations["n"]
    return population.spikes[0], population.states["u"][0], population.states["v"][0]


def test_current_decay_truncates_toward_zero_with_the_plus_one():
    # weight -10 -> u = -640 at step 1; du = 0 still decays: -640*4095/4096 = -639.84 -> -639 (not -640)
    model = single(du=0, dv=4095, vth=100, weights=[[-10]], sign_mode="inhibitory")
    _, u, _ = run(model, [[1], [0], [0], [0]])
    assert u[:, 0].tolist() == [0, -640, -639, -638]


def test_delivery_at_t_plus_one_plus_d_and_strict_threshold():
    # du = 4095: u = 64 * a each step; dv = 0: v integrates; vth 10 -> 640, compared with '>'
    model = single(du=4095, dv=0, vth=10, weights=[[10]], delays=[[2]], sign_mode="excitatory")
    spikes, u, v = run(model, [[1], [0], [0], [1], [0], [0], [0], [0]])
    assert u[:, 0].tolist() == [0, 0, 0, 640, 0, 0, 640, 0]
    assert v[:, 0].tolist() == [0, 0, 0, 640, 640, 640, 0, 0]  # 640 is not > 640; 1280 is, then reset
    assert np.flatnonzero(spikes[:, 0]).tolist() == [6]


def test_bias_enters_unshifted():
    # bias 3 << 6 = 192 per step; vth 10 -> 640: v = 192, 384, 576, 768 -> spike at steps 3, 7, 11
    model = single(du=4095, dv=0, vth=10, weights=[[0]], bias_mant=3, bias_exp=6, sign_mode="excitatory")
    spikes, _, v = run(model, np.zeros((12, 1)))
    assert np.flatnonzero(spikes[:, 0]).tolist() == [3, 7, 11]
    assert v[:4, 0].tolist() == [192, 384, 576, 0]


def test_negative_weight_exp_applies_to_the_sum_after_mixed_flooring():
    # mixed floors odd weights (3 -> 2, -3 -> -4, 5 -> 4, -5 -> -6); >> 1 then gives 1, -2, 2, -3, 1, -1
    weights = np.diag([3, -3, 5, -5, 2, -2])
    model = single(du=4095, dv=4095, vth=131071, weights=weights, weight_exp=-1)
    _, u, _ = run(model, np.vstack([np.ones((1, 6)), np.zeros((2, 6))]))
    assert (u[1] // 64).tolist() == [1, -2, 2, -3, 1, -1]


def test_sum_then_shift_differs_from_shift_then_sum():
    # two synapses of 3 (excitatory) into one neuron, weight_exp -1: (3 + 3) >> 1 = 3, not 1 + 1
    model = single(du=4095, dv=4095, vth=131071, weights=[[3], [3]], weight_exp=-1, sign_mode="excitatory")
    _, u, _ = run(model, [[1, 1], [0, 0]])
    assert u[1, 0] == 3 * 64


def test_u_wraps_once_and_v_saturates():
    # 5 synapses of 255 << 7 = 32640: a << 6 = 5 * 2088960 = 10444800 > 2**23 -> u = 10444800 - 2**24
    model = single(du=4095, dv=0, vth=131071, weights=np.full((5, 1), 255), weight_exp=7, sign_mode="excitatory")
    _, u, v = run(model, [[1] * 5, [0] * 5, [0] * 5])
    assert u[1, 0] == 10444800 - 2**24 == -6332416
    assert v[1, 0] == -6332416 and v[2, 0] == -6332416  # u is 0 again at step 2 (du = 4095)
    # the same from below wraps to +6332416; two such steps saturate v at 2**23 - 1 = 8388607, which is
    # above even the largest threshold 131071 << 6 = 8388544: the neuron spikes and v resets to 0
    inhibitory = single(du=4095, dv=0, vth=131071, weights=np.full((5, 1), -255), weight_exp=7, sign_mode="inhibitory")
    spikes, u, v = run(inhibitory, [[1] * 5, [1] * 5, [0] * 5])
    assert u[1, 0] == 6332416 and u[2, 0] == 6332416
    assert v[1, 0] == 6332416 and v[2, 0] == 0 and np.flatnonzero(spikes[:, 0]).tolist() == [2]


def test_exact_boundaries_of_the_wrap():
    # 8 synapses of 128 << 7 = 16384: a << 6 = 2**23 exactly -> not wrapped; -2**23 -> +2**23
    positive = single(du=4095, dv=4095, vth=131071, weights=np.full((8, 1), 128), weight_exp=7, sign_mode="excitatory")
    negative = single(du=4095, dv=4095, vth=131071, weights=np.full((8, 1), -128), weight_exp=7, sign_mode="inhibitory")
    assert run(positive, [[1] * 8, [0] * 8])[1][1, 0] == 2**23
    assert run(negative, [[1] * 8, [0] * 8])[1][1, 0] == 2**23


def test_negative_saturation_of_v():
    # u = -6,000,000 each step (dv = 0): v = -6e6, then clipped at -(2**23 - 1)
    weights = np.full((3, 1), -250)  # 3 * 250 << 7 << 6 = 6144000
    model = single(du=4095, dv=0, vth=100, weights=weights, weight_exp=7, sign_mode="inhibitory")
    _, u, v = run(model, [[1] * 3, [1] * 3, [0] * 3])
    assert u[1, 0] == -6144000 and v[1, 0] == -6144000
    assert v[2, 0] == -(2**23 - 1)


def test_batches_are_independent():
    model = single(du=4095, dv=0, vth=10, weights=[[10]], sign_mode="excitatory")
    both = np.array([[[1], [0], [1]], [[0], [0], [0]]], bool)
    recording = simulate_model(model, {"in": both})
    assert recording.populations["n"].states["u"][:, :, 0].tolist() == [[0, 640, 0], [0, 0, 0]]


def test_sums_beyond_float32_precision_stay_exact():
    # 65999 synapses of 255 all spiking: sum 16,829,745 (odd, above 2**24, so float32 would round it);
    # weight_exp -8 floors it to 65741, and u = 65741 << 6 = 4,207,424
    model = single(
        du=4095, dv=4095, vth=131071, weights=np.full((65999, 1), 255), weight_exp=-8, sign_mode="excitatory"
    )
    _, u, _ = run(model, np.vstack([np.ones((1, 65999)), np.zeros((1, 65999))]))
    assert u[1, 0] == 4207424
