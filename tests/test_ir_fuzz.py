"""Mutated network files always end in the project's own clear error: never a traceback, never code execution."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from neurodelay import ir
from neurodelay.errors import ValidationError
from neurodelay.ir.random_nets import random_network

SENTINEL = Path("/tmp/neurodelay_fuzz_sentinel")
EVIL_TAGS = [
    f"!!python/object/apply:os.system ['touch {SENTINEL}']",
    f"!!python/object/new:subprocess.Popen [['touch', '{SENTINEL}']]",
    "!!python/name:os.system",
    "!!binary aGVsbG8=",
    "&a [*a]",
]
WRONG_VALUES = [
    "text",
    [],
    {},
    None,
    True,
    -1,
    0,
    10**15,
    1.5,
    float("nan"),
    float("inf"),
    -float("inf"),
    [1, 2, 3],
    {"array": "../../etc/passwd", "dtype": "float64", "shape": [1]},
]


def read_archive(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_archive(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def leaf_paths(node, prefix=()):
    """Every path (tuple of keys/indices) inside a YAML document."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaf_paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaf_paths(value, prefix + (index,))


def set_path(document, path, value):
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def mutate(members: dict[str, bytes], rng: np.random.Generator) -> dict[str, bytes]:
    members = dict(members)
    document = yaml.safe_load(members["network.yaml"])
    paths = [p for p in leaf_paths(document) if p]
    kind = rng.integers(0, 9)
    if kind == 0:  # wrong type or value at a random place
        path = paths[rng.integers(len(paths))]
        set_path(document, path, WRONG_VALUES[rng.integers(len(WRONG_VALUES))])
    elif kind == 1:  # unknown field
        mappings = [p for p in [()] + paths if isinstance(_get(document, p), dict)]
        target = _get(document, mappings[rng.integers(len(mappings))])
        target[f"unexpected_{rng.integers(100)}"] = 1
    elif kind == 2:  # delete a field
        deletable = [p for p in paths if isinstance(_get(document, p[:-1]), dict)]
        path = deletable[rng.integers(len(deletable))]
        del _get(document, path[:-1])[path[-1]]
    elif kind == 3:  # huge size or schema version
        choice = rng.integers(3)
        if choice == 0:
            document["network"]["populations"][0]["size"] = int(10 ** rng.integers(7, 19))
        elif choice == 1:
            document["schema_version"] = int(rng.integers(2, 100))
        else:
            document["network"]["projections"][0]["max_delay_steps"] = int(10 ** rng.integers(6, 19))
    elif kind == 4:  # bad YAML text or an object-constructing tag
        text = members["network.yaml"].decode()
        if rng.random() < 0.5:
            cut = rng.integers(len(text))
            members["network.yaml"] = (
                text[:cut] + rng.choice(["\t:", "{[", "\x00", ": : :", "- !"]) + text[cut:]
            ).encode()
        else:
            members["network.yaml"] = text.replace(
                "name:", f"name: {EVIL_TAGS[rng.integers(len(EVIL_TAGS))]} #", 1
            ).encode()
        return members
    elif kind == 5:  # array member replaced: wrong shape, dtype, NaN, object (pickle)
        arrays = [name for name in members if name.endswith(".npy")]
        name = arrays[rng.integers(len(arrays))]
        original = np.load(io.BytesIO(members[name]))
        replacement = [
            np.full(original.shape, np.nan),
            np.zeros(original.shape + (2,)),
            np.zeros(original.shape, np.complex128),
            np.array([object()] * original.size, dtype=object),
            original.astype(np.float32),
            np.full(original.shape, 1e300 * 10),
            -np.abs(original.astype(float)) - 1,
        ][rng.integers(7)]
        members[name] = npy(replacement)
        return members
    elif kind == 6:  # array member removed or truncated
        arrays = [name for name in members if name.endswith(".npy")]
        name = arrays[rng.integers(len(arrays))]
        if rng.random() < 0.5:
            del members[name]
        else:
            members[name] = members[name][: rng.integers(len(members[name]))]
        return members
    elif kind == 7:  # dangling reference
        document["network"]["projections"][-1]["post"] = "ghost"
    else:  # negative or NaN scalar parameters
        population = document["network"]["populations"][1]
        population[rng.choice(["tau_m_ms", "tau_syn_ms", "threshold", "refractory_steps"])] = [
            -1.0,
            0.0,
            float("nan"),
            -3,
        ][rng.integers(4)]
    members["network.yaml"] = yaml.safe_dump(document, sort_keys=False).encode()
    return members


def _get(document, path):
    node = document
    for key in path:
        node = node[key]
    return node


def byte_level(data: bytes, rng: np.random.Generator) -> bytes:
    if rng.random() < 0.5:
        return data[: rng.integers(len(data))]
    corrupted = bytearray(data)
    for _ in range(rng.integers(1, 20)):
        corrupted[rng.integers(len(corrupted))] = rng.integers(256)
    return bytes(corrupted)


@pytest.mark.parametrize("chunk", range(4))
def test_1200_mutated_files_give_clear_errors(tmp_path, chunk):
    SENTINEL.unlink(missing_ok=True)
    rng = np.random.default_rng(1000 + chunk)
    bases = []
    for seed, recurrent, sparse in [(1, False, False), (2, True, True)]:
        path = tmp_path / f"base_{seed}.ndnet"
        ir.save(random_network(seed, recurrent=recurrent, sparse=sparse, per_neuron_parameters=True), path)
        bases.append(path)
    outcomes = {"error": 0, "loaded": 0}
    for case in range(300):
        base = bases[case % len(bases)]
        target = tmp_path / f"case_{case}.ndnet"
        if rng.random() < 0.2:
            target.write_bytes(byte_level(base.read_bytes(), rng))
        else:
            write_archive(target, mutate(read_archive(base), rng))
        try:
            ir.load(target)
            outcomes["loaded"] += 1
        except ValidationError as error:
            message = str(error)
            assert str(target) in message, message
            assert "\n" not in message and len(message) < 600, message
            outcomes["error"] += 1
        target.unlink()
    assert not SENTINEL.exists(), "a YAML tag executed code"
    assert outcomes["error"] > 250, outcomes


def test_error_names_file_field_and_allowed_range(tmp_path):
    path = tmp_path / "net.ndnet"
    ir.save(random_network(3), path)
    members = read_archive(path)
    document = yaml.safe_load(members["network.yaml"])
    document["network"]["populations"][1]["tau_m_ms"] = -5.0
    members["network.yaml"] = yaml.safe_dump(document).encode()
    write_archive(path, members)
    with pytest.raises(ValidationError) as info:
        ir.load(path)
    assert info.value.file == str(path)
    assert info.value.field == "network.populations[1].tau_m_ms"
    assert "> 0" in info.value.allowed


def test_delay_above_maximum_names_projection(tmp_path):
    path = tmp_path / "net.ndnet"
    ir.save(random_network(4, integer_delays=True), path)
    members = read_archive(path)
    key = "arrays/projections/input_hidden/delays_steps.npy"
    delays = np.load(io.BytesIO(members[key]))
    delays[0, 0] = 9
    members[key] = npy(delays)
    write_archive(path, members)
    with pytest.raises(ValidationError) as info:
        ir.load(path)
    assert info.value.field == "network.projections[0].delays_steps"
    assert "max_delay_steps=8" in info.value.allowed
