"""Hostile inputs for every command that reads a file: generated into a folder, each with the
command line to run and the words its one-line error must contain (the file and the field).

Each generator writes its files under ``root`` and returns cases
``{"name", "argv", "expect": [fragments], "code": 1, "limit_s"}``.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import yaml

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NETWORK = EXAMPLES / "feedforward.ndnet"
CONFIG = EXAMPLES / "sequence_detection.yaml"
LIMIT_S = 20


# --------------------------------------------------------------------------- YAML payloads
def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A flow mapping in which level k lists level k-1 ``width`` times by alias: width^levels leaves."""
    parts = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    parts += [f"l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * width)}]" for k in range(1, levels)]
    return "{" + ", ".join(parts) + "}"


def quadratic_alias(size: int = 3000) -> str:
    """One list of ``size`` items referenced ``size`` times: size^2 nodes from size^2 / 1000 bytes."""
    return "{a: &a [" + ", ".join(["x"] * size) + "], b: [" + ", ".join(["*a"] * size) + "]}"


def deep(levels: int = 5000) -> str:
    return "[" * levels + "]" * levels


HUGE_INTEGER = "9" * 5000


# --------------------------------------------------------------------------- network files
def network_document() -> dict:
    with zipfile.ZipFile(NETWORK) as archive:
        return yaml.safe_load(archive.read("network.yaml"))


def write_network(
    path: Path, yaml_text: str | bytes, *, arrays: dict[str, bytes] | None = None, extra: list[tuple[str, bytes]] = ()
) -> Path:
    """A network archive with ``yaml_text`` as network.yaml, the example's arrays (or ``arrays``),
    and ``extra`` members appended as given (duplicates included)."""
    with zipfile.ZipFile(NETWORK) as source:
        members = {name: source.read(name) for name in source.namelist() if name != "network.yaml"}
    members.update(arrays or {})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("network.yaml", yaml_text)
        for name, data in members.items():
            archive.writestr(name, data)
        for name, data in extra:
            archive.writestr(name, data)
    return path


def with_placeholder(document: dict, set_value: Callable[[dict], None]) -> str:
    """The document dumped as YAML with one value replaced by the marker ``__RAW__`` (to be
    substituted with raw YAML text that a dumper would not produce)."""
    set_value(document)
    return yaml.safe_dump(document, sort_keys=False).replace("'__RAW__'", "__RAW__")


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def huge_declared_network(path: Path, size: int) -> Path:
    """Every population ``size`` neurons and the arrays declared to match (their members keep the
    example's small arrays: the declaration alone must be refused, before any member is read)."""
    document = network_document()
    for population in document["network"]["populations"]:
        population["size"] = size
    for projection in document["network"]["projections"]:
        for field in ("weights", "delays_steps"):
            projection[field]["shape"] = [size, size]
    return write_network(path, yaml.safe_dump(document, sort_keys=False))


def network_cases(root: Path) -> list[dict]:
    """Broken, bombed and oversized network files, for info, validate, quantize and export."""

    def provenance(raw: str) -> Callable[[dict], None]:
        return lambda document: document["network"].__setitem__("provenance", "__RAW__")

    files: dict[str, tuple[Path, list[str]]] = {}

    def add(name: str, path: Path, *expect: str) -> None:
        files[name] = (path, list(expect))

    for label, raw, expect in (
        ("alias_bomb", alias_bomb(), "alias"),
        ("quadratic_alias", quadratic_alias(), "alias"),
        ("deep_nesting", deep(), "nested"),
    ):
        text = with_placeholder(network_document(), provenance(raw)).replace("__RAW__", raw)
        add(f"network_{label}", write_network(root / f"{label}.ndnet", text), "network.yaml", expect)
    document = network_document()
    document["network"]["populations"][1]["size"] = "__RAW__"
    text = yaml.safe_dump(document, sort_keys=False).replace("__RAW__", HUGE_INTEGER)
    add("network_huge_integer", write_network(root / "huge_integer.ndnet", text), "network.yaml", "digits")
    add(
        "network_not_utf8",
        write_network(root / "latin1.ndnet", yaml.safe_dump(network_document()).encode() + b"\n# caf\xe9\n"),
        "network.yaml",
        "UTF-8",
    )
    add(
        "network_duplicate_yaml",
        write_network(
            root / "dup_yaml.ndnet", yaml.safe_dump(network_document()), extra=[("network.yaml", b"format: other\n")]
        ),
        "network.yaml",
        "more than once",
    )
    add(
        "network_duplicate_array",
        write_network(
            root / "dup_array.ndnet",
            yaml.safe_dump(network_document()),
            extra=[("arrays/projections/input_hidden/weights.npy", npy(np.ones((20, 32))))],
        ),
        "weights.npy",
        "more than once",
    )
    add("network_12000_neurons", huge_declared_network(root / "huge.ndnet", 12000), "would need about", "at most")
    add("network_not_zip", write_bytes(root / "garbage.ndnet", os.urandom(3000)), "garbage.ndnet", "archive")
    add("network_empty", write_bytes(root / "empty.ndnet", b""), "empty.ndnet", "archive")
    add("network_truncated", write_bytes(root / "truncated.ndnet", NETWORK.read_bytes()[:700]), "truncated.ndnet")
    (root / "folder.ndnet").mkdir()
    add("network_directory", root / "folder.ndnet", "folder.ndnet", "not a file")
    add("network_missing", root / "missing.ndnet", "missing.ndnet", "not a file")
    document = network_document()
    document["network"]["dt_ms"] = "fast"
    add("network_string_dt", write_network(root / "string_dt.ndnet", yaml.safe_dump(document)), "dt_ms")
    document = network_document()
    document["network"]["populations"][1]["tau_m_ms"] = [1, 2]
    add("network_list_tau", write_network(root / "list_tau.ndnet", yaml.safe_dump(document)), "tau_m_ms")
    document = network_document()
    document["network"] = ["not", "a", "mapping"]
    add("network_list_body", write_network(root / "list_body.ndnet", yaml.safe_dump(document)), "network")

    cases = []
    for name, (path, expect) in files.items():
        cases.append(case(f"info_{name}", ["info", str(path)], [path.name, *expect]))
        cases.append(case(f"validate_{name}", ["validate", str(path)], [path.name, *expect]))
    for name in ("network_alias_bomb", "network_12000_neurons", "network_duplicate_yaml", "network_not_zip"):
        path, expect = files[name]
        cases.append(
            case(
                f"quantize_{name}",
                ["quantize", str(path), "--target", "loihi2", "--out", str(root / f"q_{name}.ndnet")],
                [path.name, *expect],
            )
        )
        cases.append(
            case(
                f"export_{name}",
                ["export", str(path), "--target", "nir", "--out", str(root / f"e_{name}.nir")],
                [path.name, *expect],
            )
        )
    return cases


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def case(name: str, argv: list[str], expect: list[str], code: int = 1) -> dict:
    return {"name": name, "argv": argv, "expect": expect, "code": code, "limit_s": LIMIT_S}


# --------------------------------------------------------------------------- configs
def config_text() -> str:
    return CONFIG.read_text()


def config_cases(root: Path) -> list[dict]:
    """Broken and bombed experiment configs for ``train``."""
    out = root / "runs"
    texts: dict[str, tuple[str | bytes, list[str]]] = {
        "alias_bomb": (config_text() + f"\nbomb: {alias_bomb()}\n", ["alias"]),
        "quadratic_alias": (config_text() + f"\nbomb: {quadratic_alias()}\n", ["alias"]),
        "deep_nesting": (config_text() + f"\nbomb: {deep()}\n", ["nested"]),
        "huge_integer": (config_text().replace("epochs: 10", f"epochs: {HUGE_INTEGER}"), ["digits"]),
        "not_utf8": (config_text().encode() + b"\n# caf\xe9\n", ["UTF-8"]),
        "top_level_list": ("- 1\n- 2\n", ["top level"]),
        "empty": ("", ["top level"]),
        "temperature_list": (
            config_text().replace("name: max_ce", "name: max_ce\n  options: {temperature: [1, 2]}"),
            ["loss.options.temperature"],
        ),
        "temperature_string": (
            config_text().replace("name: max_ce", "name: max_ce\n  options: {temperature: warm}"),
            ["loss.options.temperature"],
        ),
        "unknown_loss_option": (
            config_text().replace("name: max_ce", "name: max_ce\n  options: {colour: 3}"),
            ["loss.options"],
        ),
        "negative_epochs": (config_text().replace("epochs: 10", "epochs: -3"), ["epochs"]),
        "duration_of_years": (
            config_text().replace("duration_ms: 25.0", "duration_ms: 1.0e+14"),
            ["data.duration_ms", "at most 1000000000 timesteps"],
        ),
        "dt_of_a_femtosecond": (
            config_text().replace("dt_ms: 1.0", "dt_ms: 1.0e-12"),
            ["data.duration_ms", "at most 1000000000 timesteps"],
        ),
        "learning_rate_beyond_float32": (
            config_text().replace("delay_lr: 1.0", "delay_lr: 1.0e+38"),
            ["optimiser.delay_lr", "float32"],
        ),
        "eps_rounding_to_zero": (
            config_text().replace("delay_lr: 1.0", "delay_lr: 1.0\n  eps: 1.0e-50"),
            ["optimiser.eps", "float32"],
        ),
        "billion_repeats": (
            config_text().replace("repeats: 2", "repeats: 100000000000"),
            ["data / network", "do not fit in memory"],
        ),
    }
    cases = []
    for name, (text, expect) in texts.items():
        path = root / f"config_{name}.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        cases.append(
            case(f"train_{name}", ["train", str(path), "--out", str(out / name), "--no-progress"], [path.name, *expect])
        )
    braille = (EXAMPLES / "braille.yaml").read_text().replace("allow_pickle: false", "allow_pickle: true")
    (root / "braille_folder").mkdir()
    path = write_bytes(
        root / "config_braille_folder.yaml",
        "\n".join(
            f"  file: {root / 'braille_folder'}" if line.strip().startswith("file:") else line
            for line in braille.splitlines()
        ).encode(),
    )
    cases.append(
        case(
            "train_braille_file_is_a_directory",
            ["train", str(path), "--out", str(out / "braille")],
            ["braille_folder", "data.file"],
        )
    )
    (root / "config_folder.yaml").mkdir()
    cases.append(
        case(
            "train_config_directory",
            ["train", str(root / "config_folder.yaml"), "--out", str(out / "folder")],
            ["config_folder.yaml", "directory"],
        )
    )
    blocker = write_bytes(root / "a_file", b"x")
    cases.append(
        case("train_out_is_a_file", ["train", str(CONFIG), "--out", str(blocker), "--no-progress"], ["a_file"])
    )
    cases.append(
        case(
            "train_out_below_a_file", ["train", str(CONFIG), "--out", str(blocker / "run"), "--no-progress"], ["a_file"]
        )
    )
    return cases


# --------------------------------------------------------------------------- quantize and outputs
def float_network(path: Path, *, dt_ms: float | None = None, weight: float | None = None) -> Path:
    document = network_document()
    arrays = {}
    if dt_ms is not None:
        document["network"]["dt_ms"] = dt_ms
    if weight is not None:
        weights = np.full((20, 32), weight)
        arrays["arrays/projections/input_hidden/weights.npy"] = npy(weights)
    return write_network(path, yaml.safe_dump(document, sort_keys=False), arrays=arrays)


def quantize_cases(root: Path) -> list[dict]:
    """Values no chip format can hold, and output paths that are wrong before any work starts."""
    cases = []
    for label, options in (
        ("huge_dt", {"dt_ms": 1e300}),
        ("subnormal_dt", {"dt_ms": 5e-324}),
        ("tiny_dt", {"dt_ms": 1e-300}),
        ("huge_weights", {"weight": 1e300}),
        ("max_float_weights", {"weight": 1.7976931348623157e308}),
        ("weights_1e303", {"weight": 1e303}),  # the sum is finite, times 2^15 it is not: shift search
        ("weights_1e305", {"weight": 1e305}),  # ran into 2.0**1024 (OverflowError)
    ):
        path = float_network(root / f"{label}.ndnet", **options)
        field = "dt_ms" if "dt" in label else "weights"
        # (Loihi 2's quantizer maps most such values into its formats and reports every change)
        cases.append(
            case(
                f"quantize_spinnaker_{label}",
                ["quantize", str(path), "--target", "spinnaker", "--out", str(root / f"q_spinnaker_{label}.ndnet")],
                [path.name, field],
            )
        )
    for label, dt_ms in (("subnormal_dt", 5e-324), ("subnormal_dt_1e-315", 1e-315), ("dt_1e-308", 1e-308)):
        # a subnormal dt or time constant: the quantized network's taus did not give back du and dv
        path = float_network(root / f"loihi2_{label}.ndnet", dt_ms=dt_ms)
        cases.append(
            case(
                f"quantize_loihi2_{label}",
                ["quantize", str(path), "--target", "loihi2", "--out", str(root / f"q_loihi2_{label}.ndnet")],
                [path.name, "dt_ms", "too small"],
            )
        )
    for label, training in (  # a hand-edited training record: .get() on a str was an internal error
        ("string", "trained by hand"),
        ("config_list", {"config": [1, 2]}),
        ("data_number", {"config": {"data": 5}}),
        ("loss_string", {"config": {"data": {"task": "yin_yang"}, "loss": "max_ce"}}),
    ):
        document = network_document()
        document["network"]["provenance"] = {"training": training}
        path = write_network(root / f"training_record_{label}.ndnet", yaml.safe_dump(document, sort_keys=False))
        cases.append(
            case(
                f"quantize_training_record_{label}",
                ["quantize", str(path), "--target", "loihi2", "--out", str(root / f"q_training_{label}.ndnet")],
                [path.name, "provenance.training.config"],
            )
        )
        run = root / f"run_training_record_{label}"
        run.mkdir()
        write_bytes(run / "network.ndnet", path.read_bytes())
        cases.append(
            case(
                f"plot_training_record_{label}",
                ["plot", str(run), "--out", str(root / f"plots_training_{label}")],
                ["network.ndnet", "provenance.training.config"],
            )
        )
    from neurodelay import ir

    sources_only = ir.save(ir.Network("sources_only", 1.0, (ir.SpikeSource("input", 3),), ()), root / "sources.ndnet")
    for label, argv in (  # Lava's graph starts at a LIF process: the worker died with a traceback
        ("quantize", ["quantize", str(sources_only), "--target", "loihi2", "--out", str(root / "q_sources.ndnet")]),
        ("export", ["export", str(sources_only), "--target", "loihi2", "--out", str(root / "export_sources")]),
        ("parity", ["parity", str(sources_only), "--target", "loihi2", "--steps", "5"]),
    ):
        cases.append(case(f"{label}_loihi2_sources_only", argv, [sources_only.name, "only spike sources"]))
    existing = write_bytes(root / "existing.ndnet", b"keep me")
    folder = root / "a_folder"
    folder.mkdir()
    blocker = write_bytes(root / "blocker", b"x")
    wrong_outputs = [
        ("exists", lambda name: existing, ["existing.ndnet", "--force"]),
        ("is_directory", lambda name: folder, ["a_folder", "directory"]),
        ("below_a_file", lambda name: blocker / name, ["blocker", "not a folder"]),
    ]
    if os.geteuid() != 0:  # root may write into any folder
        read_only = root / "read_only"
        read_only.mkdir()
        read_only.chmod(0o500)
        wrong_outputs.append(("read_only_folder", lambda name: read_only / name, ["read_only", "not writable"]))
    for label, out, expect in wrong_outputs:
        cases.append(
            case(
                f"quantize_out_{label}",
                ["quantize", str(NETWORK), "--target", "loihi2", "--out", str(out("q.ndnet"))],
                ["--out", *expect],
            )
        )
        cases.append(
            case(
                f"import_out_{label}",
                ["import", str(root / "valid.nir"), "--out", str(out("i.ndnet"))],
                ["--out", *expect],
            )
        )
    cases.append(
        case(
            "quantize_report_is_directory",
            [
                "quantize",
                str(NETWORK),
                "--target",
                "loihi2",
                "--out",
                str(root / "fresh.ndnet"),
                "--report",
                str(folder),
            ],
            ["--report", "a_folder"],
        )
    )
    cases.append(
        case(
            "export_nir_exists",
            ["export", str(NETWORK), "--target", "nir", "--out", str(existing)],
            ["--out", "existing.ndnet", "--force"],
        )
    )
    other = root / "other_artefact"
    other.mkdir()
    write_bytes(other / "manifest.json", b"{}")
    cases.append(
        case(
            "export_loihi2_non_empty_folder",
            ["export", str(NETWORK), "--target", "loihi2", "--out", str(other)],
            ["--out", "other_artefact", "not empty"],
        )
    )
    cases.append(
        case(
            "export_loihi2_out_is_file",
            ["export", str(NETWORK), "--target", "loihi2", "--out", str(existing)],
            ["--out", "existing.ndnet", "is a file"],
        )
    )
    for target in ("loihi2", "spinnaker"):
        unquantized_out = root / f"export_{target}_unquantized"
        cases.append(
            dict(
                case(
                    f"export_{target}_unquantized",
                    ["export", str(NETWORK), "--target", target, "--out", str(unquantized_out)],
                    [NETWORK.name],
                ),
                absent=[str(unquantized_out)],
            )
        )
    cases.append(
        case(
            "gradcheck_json_is_directory", ["gradcheck", "--random", "1", "--json", str(folder)], ["--json", "a_folder"]
        )
    )
    return cases


# --------------------------------------------------------------------------- NIR files
def nir_cases(root: Path) -> list[dict]:
    """NIR graphs with wrong types, missing fields and damage (edited copies of a valid export)."""
    import h5py

    from neurodelay import ir
    from neurodelay.interchange.nir import export

    valid = root / "valid.nir"
    export(ir.load(NETWORK), valid)

    def edited(label: str, change: Callable) -> Path:
        path = root / f"{label}.nir"
        path.write_bytes(valid.read_bytes())
        with h5py.File(path, "r+") as graph:
            change(graph)
        return path

    def replace(key: str, value) -> Callable:
        def change(graph) -> None:
            del graph[key]
            graph[key] = value

        return change

    def delete(key: str) -> Callable:
        return lambda graph: graph.__delitem__(key)

    hidden = "node/nodes/hidden"
    files = {
        "string_dt": (edited("string_dt", replace("node/metadata/neurodelay_dt_ms", "fast")), ["dt"]),
        "string_nir_dt": (
            edited(
                "string_nir_dt",
                lambda g: (delete("node/metadata/neurodelay_dt_ms")(g), replace("node/metadata/dt", "fast")(g)),
            ),
            ["dt"],
        ),
        "string_refractory": (
            edited("string_refractory", replace(f"{hidden}/metadata/neurodelay_refractory_steps", "long")),
            ["refractory"],
        ),
        "missing_w_in": (edited("missing_w_in", delete(f"{hidden}/w_in")), ["w_in"]),
        "missing_tau_mem": (edited("missing_tau_mem", delete(f"{hidden}/tau_mem")), ["tau_mem"]),
        "missing_weight": (edited("missing_weight", delete("node/nodes/input_hidden.d3/weight")), ["weight"]),
        "string_tau": (edited("string_tau", replace(f"{hidden}/tau_syn", "slow")), ["tau_syn"]),
        "network_yaml_bomb": (
            edited("network_yaml_bomb", replace("node/metadata/neurodelay_network_yaml", f"bomb: {alias_bomb()}")),
            ["alias"],
        ),
        "not_hdf5": (write_bytes(root / "garbage.nir", os.urandom(2000)), []),
        "empty": (write_bytes(root / "empty.nir", b""), []),
        "truncated": (write_bytes(root / "truncated.nir", valid.read_bytes()[:4000]), []),
    }
    delay, weight = "node/nodes/input_hidden.d3.delay/delay", "node/nodes/input_hidden.d3/weight"

    def filled(key: str, value: float) -> Callable:
        return lambda graph: replace(key, np.full(graph[key].shape, value))(graph)

    for label, key, value, expect in (
        ("delay_nan", delay, np.nan, ["input_hidden.d3.delay.delay", "finite"]),
        ("delay_inf", delay, np.inf, ["input_hidden.d3.delay.delay", "finite"]),
        ("delay_huge", delay, 1e6, ["input_hidden.d3.delay.delay", "at most 1000000 steps"]),
        ("delay_negative", delay, -1e-3, ["input_hidden.d3.delay.delay", ">= 0"]),
        ("weight_nan", weight, np.nan, ["input_hidden.d3.weight", "NaN"]),
        ("weight_inf", weight, np.inf, ["input_hidden.d3.weight", "NaN"]),
        ("tau_negative", f"{hidden}/tau_mem", -0.01, ["hidden.tau_mem", "> 0"]),
        ("tau_zero", f"{hidden}/tau_syn", 0.0, ["hidden.tau_syn", "> 0"]),
        ("tau_nan", f"{hidden}/tau_mem", np.nan, ["hidden.tau_mem", "NaN"]),
        ("tau_huge", f"{hidden}/tau_mem", 1e306, ["hidden.tau_mem", "at most"]),
        ("threshold_nan", f"{hidden}/v_threshold", np.nan, ["hidden.v_threshold", "NaN"]),
        ("r_nan", f"{hidden}/r", np.nan, ["hidden.r", "NaN"]),
        ("w_in_inf", f"{hidden}/w_in", np.inf, ["hidden.w_in", "NaN"]),
    ):
        files[label] = (edited(label, filled(key, value)), ["nodes.", *expect])
    no_dt = edited(
        "no_dt",
        lambda g: (delete("node/metadata/neurodelay_dt_ms")(g), delete("node/metadata/dt")(g)),
    )
    with h5py.File(root / "list_top_level.nir", "w") as graph:
        graph["node"] = [1, 2, 3]
    files["list_top_level"] = (root / "list_top_level.nir", ["node", "not a group"])
    (root / "folder.nir").mkdir()
    files["directory"] = (root / "folder.nir", [])
    cases = []
    for label, (path, expect) in files.items():
        cases.append(
            case(
                f"import_{label}",
                ["import", str(path), "--out", str(root / f"imported_{label}.ndnet")],
                [path.name, *expect],
            )
        )
    for label, dt_ms, expect in (
        ("zero", "0", "a finite number > 0"),
        ("negative", "-1", "a finite number > 0"),
        ("nan", "nan", "a finite number > 0"),
        ("inf", "inf", "a finite number > 0"),
        ("subnormal", "5e-324", "too small"),
        ("above_the_delays", "1e300", "would become 0"),  # delays of 1-3 ms: 1e-300 steps
    ):
        cases.append(
            case(
                f"import_dt_ms_{label}",
                ["import", str(no_dt), "--out", str(root / f"imported_dt_{label}.ndnet"), f"--dt-ms={dt_ms}"],
                [no_dt.name, "--dt-ms", expect],
            )
        )
    return cases


def info_cases(root: Path) -> list[dict]:
    """``info`` on a complete graph of 13 populations (about 10^9 cycles) lists a few and ends."""
    from neurodelay import ir

    names = [f"p{i}" for i in range(13)]
    populations = [ir.SpikeSource("input", 1)] + [ir.LIF(name, 1) for name in names]
    projections = [ir.Projection(f"{a}_{b}", a, b, [[0.5]], [[1]], 1) for a in names for b in names]
    projections.append(ir.Projection("input_p0", "input", "p0", [[1.0]], [[0]], 0))
    path = ir.save(ir.Network("complete", 1.0, tuple(populations), tuple(projections)), root / "complete.ndnet")
    return [case("info_complete_graph_of_13", ["info", str(path)], ["more than 20"], code=0)]


def checkpoint_cases(root: Path) -> list[dict]:
    """``train --resume`` on damaged and malicious checkpoints."""
    cases = []
    for label, data, expect in (
        ("garbage", os.urandom(4000), "not a neurodelay checkpoint"),
        ("empty", b"", "not a neurodelay checkpoint"),
        ("old_pickle", b"PK\x03\x04" + os.urandom(100), "could run code"),
    ):
        run = root / f"run_{label}"
        run.mkdir()
        write_bytes(run / "checkpoint.pt", data)
        cases.append(
            case(
                f"train_resume_{label}",
                ["train", str(CONFIG), "--out", str(run), "--resume", "--no-progress"],
                ["checkpoint.pt", expect],
            )
        )
    return cases


def npz_bytes(arrays: dict[str, np.ndarray], *, duplicate: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            archive.writestr(f"{name}.npy", npy(array))
        if duplicate is not None:
            archive.writestr(f"{duplicate}.npy", npy(arrays[duplicate]))
    return buffer.getvalue()


def huge_declared_npz(name: str) -> bytes:
    """An .npz whose one member declares a [10^5, 10^5, 20] float64 array (160 GB) in its header."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (100000, 100000, 20)}
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.npy", header.getvalue() + b"\0" * 4096)
    return buffer.getvalue()


def npz_cases(root: Path) -> list[dict]:
    """Spike-input archives for ``parity --inputs`` and ``quantize --calibration``, and a recording for
    ``plot``: duplicates, object arrays, declared sizes beyond the limit, damage."""
    inputs = {"input": np.zeros((1, 10, 20), bool)}
    files = {
        "duplicate": (npz_bytes(inputs, duplicate="input"), ["more than once"]),
        "huge_declared": (huge_declared_npz("input"), ["would need about", "at most"]),
        "garbage": (os.urandom(3000), ["cannot be read"]),
        "empty": (b"", ["cannot be read"]),
        "truncated": (npz_bytes(inputs)[: len(npz_bytes(inputs)) // 2], ["cannot be read"]),
    }
    object_archive = io.BytesIO()
    np.savez(object_archive, input=np.array([{"a": 1}], dtype=object))
    files["object_array"] = (object_archive.getvalue(), ["Python objects"])
    cases = []
    for label, (data, expect) in files.items():
        path = write_bytes(root / f"inputs_{label}.npz", data)
        cases.append(
            case(
                f"parity_inputs_{label}",
                ["parity", str(NETWORK), "--target", "loihi2", "--inputs", str(path)],
                [path.name, "--inputs", *expect],
            )
        )
        cases.append(
            case(
                f"quantize_calibration_{label}",
                [
                    "quantize",
                    str(NETWORK),
                    "--target",
                    "loihi2",
                    "--out",
                    str(root / f"cal_{label}.ndnet"),
                    "--scale",
                    "calibrated",
                    "--calibration",
                    str(path),
                ],
                [path.name, "--calibration", *expect],
            )
        )
        cases.append(
            case(
                f"plot_recording_{label}",
                ["plot", str(path), "--out", str(root / f"plot_{label}")],
                [path.name, *expect],
            )
        )
        config = yaml.safe_load(config_text())
        config["data"] = {"task": "arrays", "train": str(path), "test": str(path)}
        config_path = root / f"config_arrays_{label}.yaml"
        config_path.write_text(yaml.safe_dump(config))
        cases.append(
            case(
                f"train_arrays_{label}",
                ["train", str(config_path), "--out", str(root / f"arrays_{label}"), "--no-progress"],
                [path.name, *expect],
            )
        )
    return cases


def spike_value_cases(root: Path) -> list[dict]:
    """Readable archives whose arrays are no spike trains: values a cast to bool would turn into
    spikes (2, -1), fractions, NaN, complex numbers, no samples, no steps, the wrong channel count."""
    files = {
        "two": (np.full((1, 10, 20), 2, np.int8), "values other than 0 and 1"),
        "minus_one": (np.full((1, 10, 20), -1, np.int64), "values other than 0 and 1"),
        "half": (np.full((1, 10, 20), 0.5), "values other than 0 and 1"),
        "nan": (np.full((1, 10, 20), np.nan), "values other than 0 and 1"),
        "complex": (np.zeros((1, 10, 20), complex), "dtype complex128"),
        "no_samples": (np.zeros((0, 10, 20), bool), "0 samples"),
        "no_steps": (np.zeros((1, 0, 20), bool), "0 steps"),
        "channels": (np.zeros((1, 10, 7), bool), "7 channels"),
    }
    cases = []
    for label, (array, problem) in files.items():
        path = write_bytes(root / f"spikes_{label}.npz", npz_bytes({"input": array}))
        cases.append(
            case(
                f"parity_inputs_spikes_{label}",
                ["parity", str(NETWORK), "--target", "loihi2", "--inputs", str(path)],
                [path.name, "--inputs[input]", problem],
            )
        )
        cases.append(
            case(
                f"quantize_calibration_spikes_{label}",
                [
                    "quantize",
                    str(NETWORK),
                    "--target",
                    "loihi2",
                    "--out",
                    str(root / f"cal_spikes_{label}.ndnet"),
                    "--scale",
                    "calibrated",
                    "--calibration",
                    str(path),
                ],
                [path.name, "--calibration[input]", problem],
            )
        )
    return cases


def run_folder_cases(root: Path) -> list[dict]:
    """``plot`` on run folders whose metrics.json is damaged, bombed or of the wrong shape, and on a
    network file (by its name or renamed .npz) where a run folder or a recording belongs."""
    renamed = write_bytes(root / "network_renamed.npz", NETWORK.read_bytes())
    cases = [
        case(
            f"plot_network_file_{label}",
            ["plot", str(path), "--out", str(root / "plots_net")],
            [path.name, "network file"],
        )
        for label, path in (("ndnet", NETWORK), ("renamed", renamed))
    ]
    recording = {"executor": np.array("x"), "dt_ms": np.array(1.0), "steps": np.array(4)}
    for label, spikes in (("two", np.full((1, 4, 3), 2, np.int8)), ("half", np.full((1, 4, 3), 0.5))):
        path = write_bytes(root / f"recording_spikes_{label}.npz", npz_bytes({**recording, "p/spikes": spikes}))
        cases.append(  # a cast to bool drew them as spikes
            case(
                f"plot_recording_spikes_{label}",
                ["plot", str(path), "--out", str(root / f"plots_spikes_{label}")],
                [path.name, "p/spikes", "values other than 0 and 1"],
            )
        )
    full = {
        **recording,
        "p/spikes": np.zeros((1, 4, 3), bool),
        "p/state/v": np.zeros((1, 4, 3)),
        "p/scale/v": np.array(1.0),
    }
    for label, change, expect in (  # internal errors (IndexError, StopIteration, matplotlib's) before
        ("steps_mismatch", {"steps": np.array(100)}, ["p/spikes", "steps = 100"]),
        ("steps_negative", {"steps": np.array(-5)}, ["steps", "integer >= 1"]),
        ("dt_nan", {"dt_ms": np.array(np.nan)}, ["dt_ms", "finite number > 0"]),
        ("spikes_2d", {"p/spikes": np.zeros((4, 3), bool)}, ["p/spikes", "[batch >= 1"]),
        ("no_steps", {"p/spikes": np.zeros((1, 0, 3), bool), "p/state/v": np.zeros((1, 0, 3))}, ["p/spikes"]),
        ("state_shape", {"p/state/v": np.zeros((2, 7))}, ["p/state/v", "shape [1, 4, 3]"]),
        ("state_strings", {"p/state/v": np.array([["a"]])}, ["p/state/v", "numbers"]),
        ("scale_nan", {"p/scale/v": np.array(np.nan)}, ["p/scale/v", "finite"]),
        ("batches_differ", {"q/spikes": np.zeros((3, 4, 2), bool)}, ["q/spikes", "batch of 3"]),
        ("no_population", {"p/spikes": None, "p/state/v": None, "p/scale/v": None}, ["no <population>/spikes"]),
    ):
        arrays = {key: value for key, value in {**full, **change}.items() if value is not None}
        path = write_bytes(root / f"recording_{label}.npz", npz_bytes(arrays))
        cases.append(
            case(
                f"plot_recording_{label}",
                ["plot", str(path), "--out", str(root / f"plots_recording_{label}")],
                [path.name, *expect],
            )
        )
    for label, data, expect in (
        ("deep", b"[" * 100000 + b"]" * 100000, "nested too deeply"),
        ("not_utf8", b'[{"epoch": 1, "x": "caf\xe9"}]', "UTF-8"),
        ("not_json", b"{epoch: 1", "not valid JSON"),
        ("mapping", b'{"epoch": 1}', "epoch records"),
        ("string_loss", b'[{"epoch": 1, "train_loss": "low"}]', "epoch records"),
    ):
        run = root / f"run_metrics_{label}"
        run.mkdir()
        write_bytes(run / "network.ndnet", NETWORK.read_bytes())
        write_bytes(run / "metrics.json", data)
        cases.append(
            case(
                f"plot_metrics_{label}",
                ["plot", str(run), "--out", str(root / f"plots_{label}")],
                ["metrics.json", expect],
            )
        )
    return cases


def space_cases(root: Path) -> list[dict]:
    """Search spaces for ``sweep`` and study configs for ``study``: YAML bombs and wrong shapes."""
    cases = []
    for label, text, expect in (
        ("alias_bomb", f"bomb: {alias_bomb()}\n", "alias"),
        ("deep_nesting", f"bomb: {deep()}\n", "nested"),
        ("huge_integer", f"trials: {HUGE_INTEGER}\n", "digits"),
        ("not_utf8", b"trials: 3 # caf\xe9\n", "UTF-8"),
    ):
        space = write_bytes(root / f"space_{label}.yaml", text if isinstance(text, bytes) else text.encode())
        cases.append(
            case(
                f"sweep_{label}",
                ["sweep", str(CONFIG), str(space), "--out", str(root / f"sweep_{label}")],
                [space.name, expect],
            )
        )
        study = write_bytes(root / f"study_{label}.yaml", text if isinstance(text, bytes) else text.encode())
        cases.append(
            case(f"study_{label}", ["study", str(study), "--out", str(root / f"study_{label}")], [study.name, expect])
        )
    values = "{values: [" + ", ".join(str(k) for k in range(1000)) + "]}"
    for label, text, expect in (  # Optuna's grid sampler lists every point: killed for lack of memory
        (
            "grid_of_1e12_points",
            "sampler: grid\nparameters:\n" + "".join(f"  p{k}: {values}\n" for k in range(4)),
            "grid",
        ),
        (
            "1e23_trials",
            "sampler: random\ntrials: " + "1" + "0" * 23 + "\nparameters:\n  seed: {values: [1]}\n",
            "trials",
        ),
    ):
        space = write_bytes(root / f"space_{label}.yaml", text.encode())
        cases.append(
            case(
                f"sweep_{label}",
                ["sweep", str(CONFIG), str(space), "--out", str(root / f"sweep_{label}")],
                [space.name, expect, "100000"],
            )
        )
    return cases


def all_cases(root: Path) -> list[dict]:
    root.mkdir(parents=True, exist_ok=True)
    return (
        network_cases(root)
        + config_cases(root)
        + nir_cases(root)
        + quantize_cases(root)
        + info_cases(root)
        + checkpoint_cases(root)
        + npz_cases(root)
        + spike_value_cases(root)
        + space_cases(root)
        + run_folder_cases(root)
    )
