"""The network file: one zip archive (suffix ``.ndnet``) holding a readable YAML document and arrays.

Layout of the archive:

    network.yaml               structure, scalar parameters, units, schema version (yaml.safe_dump)
    arrays/<key>.npy           one numpy array per array-valued field (read with allow_pickle=False)

``unzip -p net.ndnet network.yaml`` shows the network. In the YAML, an array-valued field is a
reference ``{array: <key>, dtype: <dtype>, shape: [...]}``; ``<key>`` is e.g.
``projections/in_hid/weights``. Writes are atomic (temporary file in the same folder, then rename).
Reads accept only plain YAML data (bounded: no aliases, limited nesting and integer size), known fields, the declared schema versions, and arrays
whose header (dtype, shape) matches the declaration before any array data is read.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from ..atomic import atomic_path
from ..bounded_yaml import MAX_DEPTH, load_yaml
from ..errors import NeurodelayError, ValidationError
from ..limits import check_memory, format_bytes
from ..outputs import check_output_file
from .network import Network
from .nodes import POPULATION_TYPES, Projection, WeightFormat
from .validate import MAX_POPULATION_SIZE

FORMAT_NAME = "neurodelay-network"
SCHEMA_VERSION = 1
SUFFIX = ".ndnet"
YAML_MEMBER = "network.yaml"
MAX_YAML_BYTES = 64 * 2**20
ALLOWED_DTYPES = {"float64", "float32", "int64", "int32", "int16", "int8", "uint8", "bool"}
_MAX_ARRAY_ELEMENTS = 4 * 10**9
LOAD_MEMORY_FACTOR = 3
"""Peak memory of loading and validating a network, in multiples of its declared array bytes."""


# ----------------------------------------------------------------------------------- writing
def save(network: Network, path: str | Path) -> Path:
    """Write ``network`` to ``path`` atomically; returns the path. Existing files are replaced; a
    directory at ``path``, or a file where a folder above it belongs, is refused."""
    path = check_output_file(path, option="path", force=True)
    arrays: dict[str, np.ndarray] = {}

    def reference(key: str, value: np.ndarray) -> dict[str, Any]:
        arrays[key] = value
        return {"array": key, "dtype": str(value.dtype), "shape": list(value.shape)}

    document = {
        "format": FORMAT_NAME,
        "schema_version": SCHEMA_VERSION,
        "units": {
            "time": "ms",
            "delays": "timesteps of dt_ms",
            "latency": "a spike at step t through delay d reaches the target's I at step t + 1 + d",
        },
        "network": {
            "name": network.name,
            "dt_ms": network.dt_ms,
            "populations": [_population_document(p, reference) for p in network.populations],
            "projections": [_projection_document(p, reference) for p in network.projections],
            "provenance": plain_yaml(network.provenance, "provenance", 3),  # document > network > provenance
        },
    }
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    with atomic_path(path) as temporary, zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(YAML_MEMBER, text)
        for key, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(value), allow_pickle=False)
            archive.writestr(f"arrays/{key}.npy", buffer.getvalue())
    return path


def _population_document(population, reference: Callable) -> dict[str, Any]:
    document: dict[str, Any] = {"name": population.name, "kind": population.kind}
    for name, value in vars(population).items():
        if name in ("name", "metadata"):
            continue
        if isinstance(value, np.ndarray):
            document[name] = reference(f"populations/{population.name}/{name}", value)
        else:
            document[name] = value
    document["metadata"] = plain_yaml(population.metadata, f"populations.{population.name}.metadata", 5)
    return document


def _projection_document(projection: Projection, reference: Callable) -> dict[str, Any]:
    key = f"projections/{projection.name}"
    document: dict[str, Any] = {
        "name": projection.name,
        "pre": projection.pre,
        "post": projection.post,
        "max_delay_steps": projection.max_delay_steps,
        "weights": reference(f"{key}/weights", projection.weights),
        "delays_steps": reference(f"{key}/delays_steps", projection.delays_steps),
        "mask": None if projection.mask is None else reference(f"{key}/mask", projection.mask),
        "quantized": None,
        "metadata": plain_yaml(projection.metadata, f"projections.{projection.name}.metadata", 5),
    }
    if projection.weight_format is not None:
        fmt = projection.weight_format
        document["quantized"] = {
            "integer_weights": reference(f"{key}/integer_weights", projection.integer_weights),
            "target": fmt.target,
            "mantissa_bits": fmt.mantissa_bits,
            "exponent": fmt.exponent,
            "scale": fmt.scale,
        }
    return document


def plain_yaml(value: Any, field: str, depth: int) -> Any:
    """``value`` as plain YAML data (numpy scalars and arrays become Python numbers and lists).

    depth: the nesting level a collection ``value`` takes in network.yaml (the document itself is
    level 1); deeper than :data:`MAX_DEPTH`, which :func:`load` refuses, or a value that contains
    itself, is refused here, so that every file written can be read back."""
    nesting = value.ndim if isinstance(value, np.ndarray) else 1 if isinstance(value, (dict, list, tuple)) else 0
    if nesting and depth + nesting - 1 > MAX_DEPTH:
        raise ValidationError(
            field,
            f"nested more than {MAX_DEPTH} levels deep in network.yaml (or contains itself)",
            f"at most {MAX_DEPTH} levels, as load reads",
        )
    if isinstance(value, dict):
        return {str(k): plain_yaml(v, f"{field}.{k}", depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_yaml(v, f"{field}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValidationError(
        field,
        f"cannot be stored ({type(value).__name__})",
        "YAML data: mappings, lists, strings, numbers, booleans, null",
    )


# ----------------------------------------------------------------------------------- reading
def load(path: str | Path) -> Network:
    """Read and validate a network file; any problem raises ValidationError naming file and field."""
    path = Path(path)
    try:
        return _Reader(path).network()
    except ValidationError as error:
        raise error.in_file(path) from None


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise ValidationError("(file)", "does not exist or is not a file", f"a {SUFFIX} network file")
        try:
            self.archive = zipfile.ZipFile(path)
            infos = self.archive.infolist()
        except Exception as error:  # zipfile raises many types on damaged containers; all mean "corrupt"
            raise ValidationError(
                "(file)",
                f"not a readable {SUFFIX} archive ({_one_line(error)})",
                f"a zip archive holding {YAML_MEMBER} and arrays/*.npy",
            ) from None
        self.members = {info.filename: info for info in infos}
        if len(self.members) != len(infos):
            seen: set[str] = set()
            twice = next(info.filename for info in infos if info.filename in seen or seen.add(info.filename))
            raise ValidationError(
                "(file)",
                f"archive member {twice!r} appears more than once (which copy is read would be an accident)",
                "every member once",
            )
        self.declared_bytes = 0

    def _read_member(self, name: str, limit: int, field: str) -> bytes:
        info = self.members.get(name)
        if info is None:
            raise ValidationError(field, f"archive member {name!r} is missing", "present in the archive")
        if info.file_size > limit:
            raise ValidationError(field, f"member {name!r} is {info.file_size} bytes", f"at most {limit} bytes")
        try:
            with self.archive.open(info) as stream:
                data = stream.read(limit + 1)
        except Exception as error:  # zipfile/zlib raise many types on damaged members; all mean "corrupt"
            raise ValidationError(
                field, f"member {name!r} is corrupt ({_one_line(error)})", "an intact archive"
            ) from None
        if len(data) > limit:
            raise ValidationError(field, f"member {name!r} is larger than declared", f"at most {limit} bytes")
        return data

    def network(self) -> Network:
        text = self._read_member(YAML_MEMBER, MAX_YAML_BYTES, YAML_MEMBER)
        document = load_yaml(text, field=YAML_MEMBER, max_bytes=MAX_YAML_BYTES)
        root = _mapping(
            document,
            "(document)",
            {"format", "schema_version", "units", "network"},
            required={"format", "schema_version", "network"},
        )
        if root["format"] != FORMAT_NAME:
            raise ValidationError("format", f"{root['format']!r} is not a neurodelay network", repr(FORMAT_NAME))
        version = root["schema_version"]
        if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
            raise ValidationError(
                "schema_version",
                f"unsupported version {version!r}",
                f"1..{SCHEMA_VERSION} (newer files need a newer neurodelay)",
            )
        body = _mapping(
            root["network"],
            "network",
            {"name", "dt_ms", "populations", "projections", "provenance"},
            required={"name", "dt_ms", "populations"},
        )
        populations = [
            self._population(p, f"network.populations[{i}]")
            for i, p in enumerate(_sequence(body["populations"], "network.populations"))
        ]
        sizes = {p.name: p.size for p in populations if isinstance(p.name, str)}
        projections = [
            self._projection(p, f"network.projections[{i}]", sizes)
            for i, p in enumerate(_sequence(body.get("projections", []), "network.projections"))
        ]
        provenance = body.get("provenance") or {}
        try:
            return Network(
                name=body["name"],
                dt_ms=body["dt_ms"],
                populations=tuple(populations),
                projections=tuple(projections),
                provenance=provenance,
            )
        except ValidationError as error:
            raise ValidationError(f"network.{error.field}", error.problem, error.allowed) from None

    def _population(self, document: Any, field: str):
        kind = _mapping(document, field, None, required={"kind"})["kind"]
        if not isinstance(kind, str) or kind not in POPULATION_TYPES:
            raise ValidationError(f"{field}.kind", f"unknown kind {kind!r}", ", ".join(POPULATION_TYPES))
        cls = POPULATION_TYPES[kind]
        allowed = {f for f in cls.__dataclass_fields__} | {"kind"}
        values = _mapping(document, field, allowed, required={"name", "size", "kind"})
        size = values["size"]
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_POPULATION_SIZE:
            raise ValidationError(
                f"{field}.size", f"{size!r} is not a valid size", f"integer in [1, {MAX_POPULATION_SIZE}]"
            )
        arguments = {}
        for name, value in values.items():
            if name == "kind":
                continue
            if isinstance(value, dict) and name != "metadata":
                value = self._array(value, f"{field}.{name}", (size,))
            arguments[name] = value
        if "metadata" in arguments and not isinstance(arguments["metadata"], dict):
            arguments["metadata"] = _mapping(arguments["metadata"], f"{field}.metadata", None)
        return cls(**arguments)

    def _projection(self, document: Any, field: str, sizes: dict[str, int]) -> Projection:
        values = _mapping(
            document,
            field,
            {"name", "pre", "post", "max_delay_steps", "weights", "delays_steps", "mask", "quantized", "metadata"},
            required={"name", "pre", "post", "max_delay_steps", "weights", "delays_steps"},
        )
        pre, post = values["pre"], values["post"]
        names = ", ".join(sizes)
        for end in ("pre", "post"):
            if not isinstance(values[end], str) or values[end] not in sizes:
                raise ValidationError(f"{field}.{end}", f"unknown population {values[end]!r}", f"one of: {names}")
        shape = (sizes[pre], sizes[post])
        arguments: dict[str, Any] = {
            "name": values["name"],
            "pre": pre,
            "post": post,
            "max_delay_steps": values["max_delay_steps"],
            "weights": self._array(values["weights"], f"{field}.weights", shape),
            "delays_steps": self._array(values["delays_steps"], f"{field}.delays_steps", shape),
            "mask": None if values.get("mask") is None else self._array(values["mask"], f"{field}.mask", shape),
            "metadata": _mapping(values.get("metadata") or {}, f"{field}.metadata", None),
        }
        quantized = values.get("quantized")
        if quantized is not None:
            q = _mapping(
                quantized,
                f"{field}.quantized",
                {"integer_weights", "target", "mantissa_bits", "exponent", "scale"},
                required={"integer_weights", "target", "mantissa_bits", "exponent", "scale"},
            )
            arguments["integer_weights"] = self._array(
                q["integer_weights"], f"{field}.quantized.integer_weights", shape
            )
            arguments["weight_format"] = WeightFormat(
                target=q["target"], mantissa_bits=q["mantissa_bits"], exponent=q["exponent"], scale=q["scale"]
            )
        return Projection(**arguments)

    def _array(self, reference: Any, field: str, shape: tuple[int, ...]) -> np.ndarray:
        values = _mapping(reference, field, {"array", "dtype", "shape"}, required={"array", "dtype", "shape"})
        key, dtype, declared = values["array"], values["dtype"], values["shape"]
        if not isinstance(key, str) or not key or ".." in key or key.startswith("/"):
            raise ValidationError(
                f"{field}.array", f"invalid array key {key!r}", "a relative key such as projections/p/weights"
            )
        if not isinstance(dtype, str) or dtype not in ALLOWED_DTYPES:
            raise ValidationError(f"{field}.dtype", f"{dtype!r} is not allowed", ", ".join(sorted(ALLOWED_DTYPES)))
        if not isinstance(declared, list) or declared != list(shape):
            raise ValidationError(f"{field}.shape", f"{declared!r} does not match the populations", f"{list(shape)}")
        count = int(np.prod(shape, dtype=np.int64))
        if count > _MAX_ARRAY_ELEMENTS:
            raise ValidationError(f"{field}.shape", f"{count} elements", f"at most {_MAX_ARRAY_ELEMENTS}")
        self.declared_bytes += count * np.dtype(dtype).itemsize
        check_memory(
            field,
            LOAD_MEMORY_FACTOR * self.declared_bytes,
            f"the arrays declared so far ({format_bytes(self.declared_bytes)}, loaded and validated)",
        )
        limit = count * np.dtype(dtype).itemsize + 4096
        data = self._read_member(f"arrays/{key}.npy", limit, field)
        stream = io.BytesIO(data)
        try:
            version = np.lib.format.read_magic(stream)
            header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )(stream)
        except (ValueError, SyntaxError, TypeError, EOFError) as error:
            raise ValidationError(
                field, f"array {key!r} has a corrupt header ({_one_line(error)})", "a .npy array"
            ) from None
        stored_shape, fortran, stored_dtype = header
        if tuple(stored_shape) != tuple(shape) or str(stored_dtype) != dtype or stored_dtype.hasobject:
            raise ValidationError(
                field, f"array {key!r} holds {stored_dtype} {list(stored_shape)}", f"{dtype} {list(shape)} as declared"
            )
        stream.seek(0)
        try:
            array = np.load(stream, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise ValidationError(
                field, f"array {key!r} is truncated or corrupt ({_one_line(error)})", "a complete .npy array"
            ) from None
        return array


def _mapping(value: Any, field: str, allowed: set[str] | None, required: set[str] = frozenset()) -> dict:
    if not isinstance(value, dict):
        raise ValidationError(field, f"expected a mapping, got {type(value).__name__}", "a YAML mapping")
    for key in value:
        if not isinstance(key, str):
            raise ValidationError(field, f"non-string key {key!r}", "string keys")
        if allowed is not None and key not in allowed:
            raise ValidationError(f"{field}.{key}", "unknown field", ", ".join(sorted(allowed)))
    for key in sorted(required):
        if key not in value:
            raise ValidationError(f"{field}.{key}", "required field is missing", "present")
    return value


def _sequence(value: Any, field: str) -> list:
    if not isinstance(value, list):
        raise ValidationError(field, f"expected a list, got {type(value).__name__}", "a YAML list")
    return value


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200]


__all__ = ["save", "load", "SUFFIX", "SCHEMA_VERSION", "NeurodelayError"]
