"""The registry of deployment targets: one :class:`Target` spec per chip (or file format).

The core never imports a target's package: it finds everything a target provides through its spec,
whose entries are ``"module:attribute"`` strings (imported on first use) or the objects themselves.
Targets come from two places, both read here and nowhere else:

* the built-in entries of :data:`BUILTIN` (the chips this repository ships);
* the Python entry-point group ``neurodelay.targets`` (:data:`ENTRY_POINT_GROUP`): an installed
  distribution declares ``name = "package.module:TARGET"`` and its chip appears in every command,
  the demo and the studies without any edit to neurodelay (see docs/adding_a_target.md).

A spec names, for one target:

====================  ==========================================================================
quantizer             ``f(network, **options) -> QuantizedNetwork(network, report)``, the report a
                      :class:`neurodelay.quant.chip_report.ChipReport` (``to_dict()``, ``lines()``)
formats               the target's integer format table (a dataclass instance, shown in reports)
native_weight_bits    bits of a weight on the chip, sign included
weight_grid           ``f(quantized projection) -> int`` step between representable integer weights
integer_range         ``f(quantized projection) -> (lowest, highest)`` integer weight the chip holds
delay_bound           ``f(network, population) -> int``: the largest delay (steps) into a population
cores                 ``f(quantized network) -> {population: cores}``
scale_option          ``(quantizer option, candidates)``: the free scale a calibration may choose
refsim                ``f(network, {source: bool [batch, steps, n]}) -> Recording``: the target's
                      bit-accurate reference-simulator mode (``refsim.simulate(..., mode=name)``);
                      a mode with several engines also takes ``engine=`` (neurodelay.refsim.engine)
exporter              ``export(network, out_dir, **options) ->`` :class:`~neurodelay.export_result.ExportResult`
export_options        ``(flag, argparse keyword arguments)`` pairs: options ``neurodelay export`` offers for
                      this target; each one's ``dest`` is the exporter's keyword
executors             ``(name, factory)`` pairs, ``factory(**options) -> Executor``; the first is the
                      default (``executor(**options)``), the others are chosen by name
parity_states         the states parity compares beside the spikes
parity_prepare        ``f(float network, rng or None) -> quantized network`` for random campaigns
parity_max_delay_steps  the largest delay random parity networks use
build_check           ``f(cases, executor) -> report`` for executors that record nothing (``records``
                      False): it compares what the executor built instead
parity_campaign       a :class:`neurodelay.parity.campaign.plug.CampaignPlug`: how far ``parity --campaign``
                      networks reach on this target and which of its corners it measures (optional)
====================  ==========================================================================

A file-format target (NIR) names only an exporter. ``quantizer``, ``formats``, ``refsim``,
``exporter``, ``executors``, ``parity_prepare``, ``build_check`` and ``parity_campaign`` may be
``"module:attribute"`` strings; ``weight_grid``, ``integer_range``, ``delay_bound`` and ``cores`` are callables.
"""

from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable, Iterable, Union

from ..errors import NeurodelayError, ValidationError

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "neurodelay.targets"
BUILTIN: dict[str, str] = {
    "loihi2": "neurodelay.targets.loihi2:TARGET",
    "spinnaker": "neurodelay.targets.spinnaker:TARGET",
    "nir": "neurodelay.targets.nir:TARGET",
}

Ref = Union[str, Callable[..., Any], Any]
"""A ``"module:attribute"`` string, resolved on first use, or the object itself."""

ROLES = {
    "quantize": ("quantizer",),
    "simulate": ("refsim",),
    "study": ("quantizer", "refsim"),
    "export": ("exporter",),
    "parity": ("quantizer", "refsim", "executors", "parity_prepare"),
    "deploy": ("quantizer", "refsim", "exporter", "executors"),
}
"""What a target must name to take part in each role (``targets(role)``)."""


def _one(projection: Any) -> int:
    return 1


@dataclass(frozen=True)
class Target:
    """One deployment target (see the module docstring for every entry)."""

    name: str
    description: str
    quantizer: Ref | None = None
    formats: Ref | None = None
    native_weight_bits: int = 0
    weight_grid: Ref = _one
    integer_range: Ref | None = None
    delay_bound: Ref | None = None
    cores: Ref | None = None
    scale_option: tuple[str, tuple[float, ...]] | None = None
    refsim: Ref | None = None
    exporter: Ref | None = None
    export_options: tuple[tuple[str, dict[str, Any]], ...] = ()
    executors: tuple[tuple[str, Ref], ...] = ()
    parity_states: tuple[str, ...] = ()
    parity_prepare: Ref | None = None
    parity_max_delay_steps: int = 0
    build_check: Ref | None = None
    parity_campaign: Ref | None = None

    def resolve(self, entry: str) -> Any:
        """The object the spec's ``entry`` names (imported now if given as ``"module:attribute"``)."""
        value = getattr(self, entry)
        if value is None:
            raise NeurodelayError(f"target {self.name!r} ({self.description}) has no {entry}")
        return load_reference(value, f"the {entry} of target {self.name!r}")

    def can(self, role: str) -> bool:
        """Whether the spec names everything ``role`` (a key of :data:`ROLES`) needs."""
        return all(getattr(self, entry) for entry in ROLES[role])

    # ----- the calls the target-neutral code makes -------------------------------------------
    def quantize(self, network: Any, **options: Any) -> tuple[Any, Any]:
        """Run the target's post-training quantizer: ``(quantized network, report)``."""
        return self.resolve("quantizer")(network, **options)

    def format_table(self) -> dict[str, Any]:
        """The target's format table as a plain dict (for reports); empty when it names none."""
        from dataclasses import asdict, is_dataclass

        if self.formats is None:
            return {}
        table = self.resolve("formats")
        return _plain(asdict(table) if is_dataclass(table) else dict(table))

    def simulate(self, network: Any, inputs: dict[str, Any], **options: Any) -> Any:
        """The target's bit-accurate reference-simulator mode on checked inputs (``options``, e.g.
        ``engine``, go to the mode's function as keywords)."""
        return self.resolve("refsim")(network, inputs, **options)

    def export(self, network: Any, out_dir: Any, **options: Any) -> Any:
        """Lower ``network`` to the target's artefact under ``out_dir``; an ExportResult."""
        return self.resolve("exporter")(network, out_dir, **options)

    def executor_names(self) -> list[str]:
        return [name for name, _ in self.executors]

    def executor(self, name: str | None = None, **options: Any) -> Any:
        """The executor ``name`` (default: the first) built with ``options``."""
        if not self.executors:
            raise NeurodelayError(f"target {self.name!r} ({self.description}) has no executor")
        named = dict(self.executors)
        chosen = self.executors[0][0] if name is None else name
        if chosen not in named:
            raise ValidationError("--executor", f"target {self.name} has no executor {chosen!r}", ", ".join(named))
        return load_reference(named[chosen], f"the executor {chosen!r} of target {self.name!r}")(**options)

    def prepare_for_parity(self, network: Any, rng: Any) -> Any:
        """``network`` quantized for parity (options drawn from ``rng``; None: the quantizer's defaults)."""
        return self.resolve("parity_prepare")(network, rng)


def load_reference(value: Ref, what: str) -> Any:
    """``value`` itself, or the attribute a ``"module:attribute"`` string names (imported now)."""
    if not isinstance(value, str):
        return value
    module_name, _, attribute = value.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise NeurodelayError(
            f"{what} cannot be imported ({error}); install the target's dependencies "
            "(for the built-in targets: python3 dev.py setup)"
        ) from error
    try:
        return getattr(module, attribute) if attribute else module
    except AttributeError:
        raise NeurodelayError(f"{what}: module {module_name} has no {attribute!r}") from None


def _plain(value: Any) -> Any:
    from ..quant.report import as_json

    return as_json(value)


# ----- the registry -----------------------------------------------------------------------------
_cache: dict[tuple[str, ...], tuple[dict[str, Target], dict[str, str]]] = {}


def _entry_points() -> Iterable[metadata.EntryPoint]:
    return metadata.entry_points(group=ENTRY_POINT_GROUP)


def _load() -> tuple[dict[str, Target], dict[str, str]]:
    """``(targets, failures)``: every built-in and entry-point target; failures name the ones that
    could not be loaded and why (logged as warnings, reported when such a target is asked for)."""
    found: dict[str, Target] = {}
    failures: dict[str, str] = {}
    sources = [(name, reference, "built-in entry") for name, reference in BUILTIN.items()]
    sources += [
        (point.name, point.value, f"entry point of {getattr(point.dist, 'name', '?')}") for point in _entry_points()
    ]
    for name, reference, origin in sources:
        try:
            target = load_reference(reference, f"target {name!r} ({origin} {reference})")
        except Exception as error:  # a broken plug-in must not take the other targets down
            failures[name] = f"{origin} {reference} failed to load: {error}"
            logger.warning("target %r: %s", name, failures[name])
            continue
        if not isinstance(target, Target):
            failures[name] = f"{origin} {reference} is a {type(target).__name__}, not a neurodelay Target"
        elif target.name != name:
            failures[name] = f"{origin} {reference} declares the name {target.name!r}"
        elif name in found:
            failures[name] = f"{origin} {reference} duplicates the target {name!r} already registered"
        else:
            found[name] = target
            continue
        logger.warning("target %r: %s", name, failures[name])
    return found, failures


def _registry() -> tuple[dict[str, Target], dict[str, str]]:
    key = tuple(sys.path)  # a new path entry may hold new distributions: read them again
    if key not in _cache:
        _cache.clear()
        _cache[key] = _load()
    return _cache[key]


def all_targets() -> dict[str, Target]:
    """Every registered target by name (built-in entries first, then entry points)."""
    return dict(_registry()[0])


def target_names(role: str | None = None) -> list[str]:
    """Names of the targets that can play ``role`` (every target for None), in registry order."""
    return [name for name, target in _registry()[0].items() if role is None or target.can(role)]


def get_target(name: str, role: str | None = None) -> Target:
    """The target ``name``; a ValidationError naming ``--target`` and the choices otherwise."""
    targets, failures = _registry()
    if name in failures and name not in targets:
        raise NeurodelayError(f"target {name!r}: {failures[name]}")
    if name not in targets or (role is not None and not targets[name].can(role)):
        raise ValidationError(
            "--target",
            f"unknown target {name!r}" if name not in targets else f"target {name!r} cannot {role}",
            ", ".join(target_names(role)),
        )
    return targets[name]


__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "Target", "all_targets", "get_target", "load_reference", "target_names"]
