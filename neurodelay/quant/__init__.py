"""Quantization: each target's integer format as data, the encoding of a quantized network into the
target's integer parameters, and post-training quantizers that report every lossy step.

Each target's quantizer lives in its own module, named by the target's spec in
:mod:`neurodelay.targets`; the target-neutral entry point is :func:`neurodelay.quant.calibration.quantize`.
"""
