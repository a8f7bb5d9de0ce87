"""``neurodelay plot RUN_DIR|RECORDING.npz [--out DIR] [--sample K] [--neurons POP:I,J ...] [--format png]``:
figures of a training run (accuracy/loss curves, delay histograms before/after, rasters and membrane
traces of the trained network on test samples) or of a saved recording (rasters, membrane traces)."""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

from .. import ir
from ..errors import ValidationError
from ..ir.fileformat import YAML_MEMBER
from ..outputs import check_output_folder


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="plot a training run or a recording (rasters, delays, V, curves)",
        description="Figures of a training run folder or of a recording .npz "
        "(Recording.save): curves, delays, raster and membrane.",
    )
    parser.add_argument("source", help="training run folder (network.ndnet, metrics.json) or recording .npz")
    parser.add_argument(
        "--out",
        default=None,
        help="folder for the figures (default: SOURCE/plots for a run, beside the recording otherwise)",
    )
    parser.add_argument("--sample", type=int, default=0, help="which sample's raster and traces (default 0)")
    parser.add_argument(
        "--neurons",
        nargs="+",
        default=None,
        metavar="POP:I,J",
        help="membrane traces of these neurons, e.g. hidden:0,5 readout:1 (default: the 3 most "
        "active of each population with a voltage)",
    )
    parser.add_argument("--format", choices=("png", "pdf", "svg"), default="png", help="file format (default png)")
    parser.set_defaults(handler=run)


def parse_neurons(items: list[str] | None) -> dict[str, list[int]] | None:
    """``["hidden:0,5", "readout:1"]`` -> ``{"hidden": [0, 5], "readout": [1]}``."""
    if items is None:
        return None
    chosen: dict[str, list[int]] = {}
    for item in items:
        name, _, indices = item.partition(":")
        try:
            chosen[name] = [int(index) for index in indices.split(",")]
        except ValueError:
            raise ValidationError("--neurons", f"got {item!r}", "POPULATION:I[,J...] with integer indices") from None
        if not name or not chosen[name]:
            raise ValidationError("--neurons", f"got {item!r}", "POPULATION:I[,J...]")
    return chosen


def is_network_file(path: Path) -> bool:
    """Whether ``path`` is a network archive (a zip holding ``network.yaml``), whatever its suffix."""
    try:
        with zipfile.ZipFile(path) as archive:
            return YAML_MEMBER in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def run(args: argparse.Namespace) -> int:
    from ..plots import plot_recording, plot_run
    from ..recording import Recording

    source = Path(args.source)
    suffix, neurons = f".{args.format}", parse_neurons(args.neurons)
    if args.out:  # figures are redrawn on every run: only the kind and place of the folder are checked
        check_output_folder(args.out, force=True)
    if source.is_dir():
        out = Path(args.out) if args.out else check_output_folder(source / "plots", option="(source)/plots", force=True)
        written = plot_run(source, out, sample=args.sample, neurons=neurons, suffix=suffix)
    elif source.is_file():
        if is_network_file(source):
            raise ValidationError(
                "(source)",
                f"is a network file ({ir.SUFFIX}), not a recording",
                "a training run folder or a recording .npz (Recording.save); `neurodelay info` summarises a network",
                file=source,
            )
        written = plot_recording(
            Recording.load(source),
            Path(args.out) if args.out else source.parent,
            sample=args.sample,
            neurons=neurons,
            suffix=suffix,
        )
    else:
        raise ValidationError("(source)", "not found", "a training run folder or a recording .npz", file=source)
    for path in written:
        print(path)
    return 0
