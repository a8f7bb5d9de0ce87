"""The one shape every chip's quantizer returns: ``quantize_network(network, **options) ->
QuantizedNetwork(network, report)``, the report a :class:`ChipReport`."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..ir import Network


class ChipReport:
    """What a chip's quantizer changed, in the chip's own terms.

    Subclasses hold their counts as fields and implement :meth:`to_dict` (plain JSON values: it is
    stored as the quantized network's ``provenance['quantization']``) and :meth:`lines` (one line per
    lossy step or setting, for people).
    """

    target: str

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def lines(self) -> list[str]:
        raise NotImplementedError


class QuantizedNetwork(NamedTuple):
    """A network whose parameters the chip represents exactly, and the report of what changed."""

    network: Network
    report: ChipReport
