"""Save/load round trips are bit-identical for every kind of network (property tests)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from neurodelay import ir
from neurodelay.errors import ValidationError
from strategies import networks


def assert_same_value(a, b, where: str) -> None:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b), where
        assert a.tobytes() == b.tobytes(), where
    else:
        assert type(a) is type(b) and a == b, (where, a, b)


def assert_same_network(a: ir.Network, b: ir.Network) -> None:
    assert (a.name, a.dt_ms, a.provenance) == (b.name, b.dt_ms, b.provenance)
    assert len(a.populations) == len(b.populations) and len(a.projections) == len(b.projections)
    for pa, pb in zip(a.populations, b.populations):
        assert type(pa) is type(pb)
        for field in pa.__dataclass_fields__:
            assert_same_value(getattr(pa, field), getattr(pb, field), f"{pa.name}.{field}")
    for qa, qb in zip(a.projections, b.projections):
        for field in (
            "name",
            "pre",
            "post",
            "max_delay_steps",
            "weights",
            "delays_steps",
            "mask",
            "integer_weights",
            "metadata",
        ):
            va, vb = getattr(qa, field), getattr(qb, field)
            if va is None or vb is None:
                assert va is None and vb is None, f"{qa.name}.{field}"
            else:
                assert_same_value(va, vb, f"{qa.name}.{field}")
        if qa.weight_format is None:
            assert qb.weight_format is None
        else:
            assert vars(qa.weight_format) == vars(qb.weight_format)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(network=networks())
def test_save_load_is_bit_identical(network, tmp_path_factory):
    path = tmp_path_factory.mktemp("rt") / "net.ndnet"
    ir.save(network, path)
    loaded = ir.load(path)
    assert_same_network(network, loaded)
    again = tmp_path_factory.mktemp("rt2") / "net.ndnet"
    ir.save(loaded, again)
    assert_same_network(loaded, ir.load(again))


def test_examples_load_and_are_what_the_builder_makes(tmp_path):
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "examples"
    spec = importlib.util.spec_from_file_location("build_examples", root / "build_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert_same_network(module.feedforward(), ir.load(root / "feedforward.ndnet"))
    assert_same_network(module.recurrent(), ir.load(root / "recurrent.ndnet"))
    assert ir.load(root / "recurrent.ndnet").recurrent_loops() == [["hidden"]]
    assert ir.load(root / "feedforward.ndnet").recurrent_loops() == []


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    network = ir.load(__import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "feedforward.ndnet")
    path = tmp_path / "net.ndnet"
    ir.save(network, path)
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", explode)
    try:
        ir.save(network, path)
    except OSError:
        pass
    assert path.read_bytes() == before, "a failed save must leave the previous file intact"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.ndnet"]


def small_network(**options) -> ir.Network:
    populations = (ir.SpikeSource("input", 2, metadata=options.get("source_metadata", {})), ir.LIF("hidden", 2))
    projection = ir.Projection("p", "input", "hidden", np.ones((2, 2)), np.zeros((2, 2), np.int64), 1)
    return ir.Network("n", 1.0, populations, (projection,), provenance=options.get("provenance", {}))


def nested(levels: int, leaf: np.ndarray | None = None) -> dict:
    """``levels`` collections deep: mappings around an empty one, or around ``leaf`` (one level per axis)."""
    value, depth = ({}, 1) if leaf is None else (leaf, leaf.ndim)
    for _ in range(levels - depth):
        value = {"x": value}
    return value


def test_every_file_save_writes_is_one_load_reads(tmp_path):
    """Provenance or metadata nested beyond the reader's limit was written, then refused by load;
    now the deepest that save writes loads back, and one level more is refused by save itself."""
    for options, name in (
        (lambda levels: {"provenance": nested(levels)}, "provenance"),
        (lambda levels: {"source_metadata": nested(levels)}, "populations.input.metadata"),
        (lambda levels: {"provenance": nested(levels, np.zeros((1,) * 20))}, "provenance.x"),
    ):
        written = []
        for levels in range(40, 52):
            try:
                path = ir.save(small_network(**options(levels)), tmp_path / f"n{levels}.ndnet")
            except ValidationError as error:
                assert error.field.startswith(name) and "nested more than 50 levels" in error.problem
                continue
            written.append(levels)
            ir.load(path)  # raised "nested more than 50 levels deep" for the deepest ones before
        assert written and written[-1] < 51, (name, written)


def test_a_provenance_that_contains_itself_is_refused_by_save(tmp_path):
    provenance: dict = {"seed": 1}
    provenance["me"] = provenance
    with pytest.raises(ValidationError, match="contains itself"):  # a RecursionError before
        ir.save(small_network(provenance=provenance), tmp_path / "n.ndnet")


def test_a_numpy_integer_size_is_saved_as_an_int(tmp_path):
    """ir.LIF("hidden", np.int64(2)) passed validation, then yaml could not represent the size."""
    population = ir.LIF("hidden", np.int64(2))
    network = ir.Network("n", 1.0, (ir.SpikeSource("input", np.int64(2)), population), ())
    assert type(network.populations[1].size) is int
    assert ir.load(ir.save(network, tmp_path / "n.ndnet")).populations[1].size == 2


def test_save_refuses_a_directory_and_a_path_below_a_file(tmp_path):
    """Raw IsADirectoryError / FileExistsError from the atomic write before."""
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ValidationError, match="is a directory"):
        ir.save(small_network(), tmp_path)
    with pytest.raises(ValidationError, match="a_file is a file, not a folder"):
        ir.save(small_network(), tmp_path / "a_file" / "n.ndnet")
