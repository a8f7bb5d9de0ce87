"""Building invalid networks in Python raises ValidationError naming the field and the allowed range."""

from __future__ import annotations

import numpy as np
import pytest

from neurodelay import ir
from neurodelay.errors import ValidationError


def build(**changes):
    populations = changes.pop("populations", (ir.SpikeSource("in", 2), ir.LIF("h", 3), ir.LeakyIntegrator("o", 1)))
    projection = dict(
        name="p", pre="in", post="h", weights=np.ones((2, 3)), delays_steps=np.zeros((2, 3)), max_delay_steps=4
    )
    projection.update(changes.pop("projection", {}))
    return ir.Network(
        changes.pop("name", "net"), changes.pop("dt_ms", 1.0), populations, (ir.Projection(**projection),), **changes
    )


@pytest.mark.parametrize(
    "changes, field, allowed",
    [
        (dict(dt_ms=0.0), "dt_ms", "> 0"),
        (dict(dt_ms=float("nan")), "dt_ms", "> 0"),
        (dict(name="bad name"), "name", "letter"),
        (dict(populations=(ir.SpikeSource("in", 2), ir.LIF("h", 3, tau_m_ms=-1.0))), "populations[1].tau_m_ms", "> 0"),
        (
            dict(populations=(ir.SpikeSource("in", 2), ir.LIF("h", 3, tau_syn_ms=np.array([1.0, 0.0, 2.0])))),
            "populations[1].tau_syn_ms",
            "> 0",
        ),
        (
            dict(populations=(ir.SpikeSource("in", 2), ir.LIF("h", 3, threshold=np.ones(4)))),
            "populations[1].threshold",
            "[3]",
        ),
        (
            dict(populations=(ir.SpikeSource("in", 2), ir.LIF("h", 3, reset=2.0))),
            "populations[1].reset",
            "reset < threshold",
        ),
        (
            dict(populations=(ir.SpikeSource("in", 2), ir.LIF("h", 3, refractory_steps=-1))),
            "populations[1].refractory_steps",
            "[0,",
        ),
        (dict(populations=(ir.SpikeSource("in", 0), ir.LIF("h", 3))), "populations[0].size", "[1,"),
        (dict(populations=(ir.SpikeSource("in", 2), ir.LIF("in", 3))), "populations[1].name", "unique"),
        (dict(projection=dict(post="ghost")), "projections[0].post", "one of: in, h, o"),
        (
            dict(projection=dict(pre="o", weights=np.ones((1, 3)), delays_steps=np.zeros((1, 3)))),
            "projections[0].pre",
            "LIF",
        ),
        (
            dict(projection=dict(post="in", weights=np.ones((2, 2)), delays_steps=np.zeros((2, 2)))),
            "projections[0].post",
            "LIF",
        ),
        (dict(projection=dict(weights=np.ones((3, 2)))), "projections[0].weights", "n_pre=2"),
        (dict(projection=dict(weights=np.full((2, 3), np.inf))), "projections[0].weights", "finite"),
        (dict(projection=dict(delays_steps=np.full((2, 3), 5.0))), "projections[0].delays_steps", "max_delay_steps=4"),
        (dict(projection=dict(delays_steps=np.full((2, 3), -0.5))), "projections[0].delays_steps", "[0,"),
        (dict(projection=dict(mask=np.zeros((2, 3), bool))), "projections[0].weights", "mask is False"),
        (dict(projection=dict(integer_weights=np.ones((2, 3), np.int64))), "projections[0].weight_format", "both"),
        (
            dict(
                projection=dict(
                    integer_weights=np.full((2, 3), 300),
                    weight_format=ir.WeightFormat("loihi2", 8, 0, 1.0),
                    weights=np.full((2, 3), 300.0),
                )
            ),
            "projections[0].integer_weights",
            "[-128, 127]",
        ),
        (
            dict(
                projection=dict(
                    integer_weights=np.full((2, 3), 3),
                    weight_format=ir.WeightFormat("loihi2", 8, 1, 0.5),
                    weights=np.full((2, 3), 1.0),
                )
            ),
            "projections[0].weights",
            "2**exponent",
        ),
        (
            dict(
                projection=dict(
                    integer_weights=np.full((2, 3), 2),
                    weight_format=ir.WeightFormat("loihi2", 8, 0, 0.5),
                    weights=np.ones((2, 3)),
                    delays_steps=np.full((2, 3), 1.5),
                )
            ),
            "projections[0].delays_steps",
            "whole timesteps",
        ),
    ],
)
def test_invalid_networks_name_field_and_allowed_range(changes, field, allowed):
    with pytest.raises(ValidationError) as info:
        build(**changes)
    assert info.value.field == field
    assert allowed in (info.value.allowed or ""), info.value.allowed


def test_valid_network_normalises_arrays_and_graph():
    network = build(projection=dict(weights=[[1, 2, 3], [4, 5, 6]], delays_steps=[[0, 1, 2], [3, 4, 4]]))
    projection = network.projections[0]
    assert projection.weights.dtype == np.float64 and projection.delays_steps.dtype == np.int64
    graph = network.graph()
    assert list(graph.edges(keys=True)) == [("in", "h", "p")]
    assert graph.edges["in", "h", "p"]["synapses"] == 6 and not network.is_recurrent


def test_quantized_projection_recovers_float_values():
    fmt = ir.WeightFormat("loihi2", 8, -2, 0.5)
    integers = np.array([[1, -2, 127], [-128, 0, 3]])
    network = build(projection=dict(integer_weights=integers, weight_format=fmt, weights=integers * 0.125))
    assert network.is_quantized
    np.testing.assert_array_equal(network.projections[0].weights, integers * 0.125)


def test_a_uint64_delay_above_2_to_the_63_is_named_with_its_value():
    """The cast to int64 came before the range check: 2**64 - 1 was reported as "min -1, max -1"."""
    delays = np.full((2, 2), 2**64 - 1, np.uint64)
    populations = (ir.SpikeSource("i", 2), ir.LIF("h", 2))
    with pytest.raises(ValidationError, match=r"delays_steps: values out of range \(min 18446744073709551615"):
        ir.Network("n", 1.0, populations, (ir.Projection("p", "i", "h", np.ones((2, 2)), delays, 3),))
    projection = ir.Projection("p", "i", "h", np.ones((2, 2)), np.full((2, 2), 2, np.uint8), 3)
    assert ir.Network("n", 1.0, populations, (projection,)).projections[0].delays_steps.dtype == np.int64
