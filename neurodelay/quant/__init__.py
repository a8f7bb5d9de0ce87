"""Quantization: each target's integer format as data, the encoding of a quantized network into the
target's integer parameters, and post-training quantizers that report every lossy step.

Targets live in their own modules (``loihi2``); import the one you need.
"""
