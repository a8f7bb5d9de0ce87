"""PTQ or QAT, chosen by measurement.

Post-training quantization (PTQ) first. Its accuracy and the float network's are measured on
held-out samples (the validation split, never the test split) on the reference simulator's
bit-accurate target mode. When PTQ loses more than ``threshold_pp`` percentage points, the network
is fine-tuned with the target's quantizer in every forward pass (QAT, :mod:`.qat`, at the scale PTQ
chose) and quantized again; QAT is kept when it is more accurate than PTQ on the same samples, and
PTQ is kept (and the report says so) when it is not. Every accuracy measured is reported, and the
chosen network carries the record in its provenance (``quantization_choice``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Literal

from .. import console

from ..data import Dataset
from ..errors import ValidationError
from ..ir import Network
from .calibration import quantize
from .evaluation import evaluate
from .qat import FineTuneConfig, fine_tune
from .report import QuantizationSummary

QAT_MODES = ("auto", "off", "on")
DEFAULT_THRESHOLD_PP = 1.0
DEFAULT_FINE_TUNING = {"epochs": 6, "batch_size": 32, "weight_lr": 3e-4, "delay_lr": 0.05}
"""Fine-tuning settings of the QAT step (:class:`~.qat.FineTuneConfig` fields). Delays learn too,
within the chip's bound. Measured on the five networks of the 0.25 ms Yin-Yang recipe (1000 test
samples; benchmarks/results/studies/yin_yang_fine_recipe): these settings lose 0.6-2.1 pp at 4
bits, and at 6 bits from 0.1 pp better to 1.1 pp worse; weights at 1e-3 for 3 epochs (the earlier
default) lost 1.3-18.9 pp at 4 bits and ended below PTQ on two of the five; 3e-4 for 3 epochs
1.3-3.8 pp."""


@dataclass(frozen=True)
class QatPolicy:
    """When to fine-tune: ``mode`` ``auto`` (QAT when PTQ loses more than ``threshold_pp``
    percentage points on the check samples), ``on`` (always), ``off`` (PTQ only, nothing measured);
    ``fine_tuning``: :class:`~.qat.FineTuneConfig` fields (epochs, batch_size, weight_lr, ...)."""

    mode: Literal["auto", "off", "on"] = "auto"
    threshold_pp: float = DEFAULT_THRESHOLD_PP
    fine_tuning: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_FINE_TUNING))

    def __post_init__(self) -> None:
        if self.mode not in QAT_MODES:
            raise ValidationError("--qat", repr(self.mode), ", ".join(QAT_MODES))
        if not 0.0 <= self.threshold_pp <= 100.0:
            raise ValidationError("--qat-threshold", f"{self.threshold_pp}", "0 to 100 percentage points")


@dataclass
class QuantizationChoice:
    """What was measured and chosen. Accuracies are fractions on ``samples`` samples of ``split``;
    ``qat_accuracy`` is None when QAT was not run; ``chosen`` is ``ptq`` or ``qat``."""

    target: str
    split: str
    samples: int
    threshold_pp: float
    float_accuracy: float
    ptq_accuracy: float
    qat_accuracy: float | None
    chosen: str
    reason: str

    @property
    def ptq_drop_pp(self) -> float:
        return 100 * (self.float_accuracy - self.ptq_accuracy)

    @property
    def qat_drop_pp(self) -> float | None:
        return None if self.qat_accuracy is None else 100 * (self.float_accuracy - self.qat_accuracy)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ptq_drop_pp": self.ptq_drop_pp, "qat_drop_pp": self.qat_drop_pp}

    def lines(self) -> list[str]:
        """The report, one line per measurement and one for the decision."""
        rows = [("float", self.float_accuracy), ("PTQ", self.ptq_accuracy)]
        if self.qat_accuracy is not None:
            rows.append(("QAT", self.qat_accuracy))
        lines = [f"accuracy on {self.samples} {self.split} samples ({self.target} bit-accurate refsim):"]
        for name, value in rows:
            drop = "" if name == "float" else f"  ({100 * (self.float_accuracy - value):+.2f} pp)"
            lines.append(f"  {name:<5} {100 * value:6.2f} %{drop}")
        lines.append(f"  chosen: {self.chosen.upper()} ({self.reason})")
        return lines


def quantize_choosing(
    network: Network,
    target: str,
    *,
    train: Dataset,
    check: Dataset,
    split: str = "validation",
    loss: str = "sum_ce",
    policy: QatPolicy = QatPolicy(),
    log: Callable[[str], None] = console.info,
    **quantize_options: Any,
) -> tuple[Network, QuantizationSummary, QuantizationChoice]:
    """Quantize ``network`` for ``target`` by PTQ or QAT as ``policy`` says (module docstring).

    ``train``: samples the QAT step fine-tunes on; ``check``: held-out samples ``[n, steps, channels]``
    the accuracies are measured on (``split`` names them in the report); ``loss``: the readout the
    class scores use; ``log``: progress lines (the fine-tuning can take minutes);
    ``quantize_options``: :func:`~.calibration.quantize` arguments (scale, calibration,
    weight_bits, signs_split, strict).
    """
    if policy.mode == "off":
        raise ValidationError("--qat", "off", "auto or on (with off, call quantize; nothing is measured)")
    quantized, summary = quantize(network, target, **quantize_options)
    float_accuracy = evaluate(network, check, loss=loss).accuracy
    ptq_accuracy = evaluate(quantized, check, mode=target, loss=loss).accuracy
    drop_pp = 100 * (float_accuracy - ptq_accuracy)
    record = QuantizationChoice(
        target, split, len(check), policy.threshold_pp, float_accuracy, ptq_accuracy, None, "ptq", ""
    )
    if policy.mode == "auto" and drop_pp <= policy.threshold_pp:
        record.reason = f"PTQ loses {drop_pp:.2f} pp, within the {policy.threshold_pp:g} pp threshold"
        return _with_record(quantized, record), summary, record
    chosen_options = summary.options["target_options"]
    weight_bits = quantize_options.get("weight_bits")
    signs_split = bool(quantize_options.get("signs_split", False))
    settings = FineTuneConfig(
        target=target,
        weight_bits=weight_bits,
        signs_split=signs_split,
        target_options=chosen_options,
        loss=loss,
        **policy.fine_tuning,
    )
    log(
        f"{target}: PTQ {100 * ptq_accuracy:.2f} % vs float {100 * float_accuracy:.2f} % on {len(check)} {split} "
        f"samples; fine-tuning with the quantizer in the loop ({settings.epochs} epochs on "
        f"{len(train)} training samples)"
    )
    tuned, _ = fine_tune(network, train, settings)
    retuned, retuned_summary = quantize(
        tuned,
        target,
        weight_bits=weight_bits,
        signs_split=signs_split,
        strict=bool(quantize_options.get("strict", False)),
        **chosen_options,
    )
    record.qat_accuracy = evaluate(retuned, check, mode=target, loss=loss).accuracy
    why = "asked for (--qat on)" if policy.mode == "on" else f"PTQ loses {drop_pp:.2f} pp > {policy.threshold_pp:g} pp"
    if record.qat_accuracy > ptq_accuracy or policy.mode == "on":
        record.chosen = "qat"
        record.reason = why
        return _with_record(retuned, record), retuned_summary, record
    record.reason = f"{why}, but QAT did not beat it ({100 * record.qat_accuracy:.2f} % vs {100 * ptq_accuracy:.2f} %)"
    return _with_record(quantized, record), summary, record


def _with_record(network: Network, record: QuantizationChoice) -> Network:
    return replace(network, provenance={**network.provenance, "quantization_choice": record.to_dict()})
