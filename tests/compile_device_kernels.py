"""Compile every device kernel for a Hopper GPU (sm_90) down to a cubin, without a GPU: Triton's
own compiler and the ptxas it ships run on any machine. Run as a script in a process without
``TRITON_INTERPRET`` (tests/test_engine_device.py does); prints one line per kernel variant."""

from __future__ import annotations

import inspect
import sys

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from neurodelay.engine import triton_kernels as kernels


def variants(float_pointer: str):
    """(kernel, pointer types by argument, constexpr values) as the device path launches them."""
    f, i32, i8 = float_pointer, "*i32", "*i8"
    neuron = dict(alpha=f, beta=f, i_scale=f, threshold=f, reset=f, rec_weights=f, rec_delays=i32)
    yield (
        kernels.deliver_spikes,
        dict(spikes=i8, weights=f, delays=i32, arrivals=f),
        dict(ROWS=8, BLOCK_PRE=256, BLOCK_POST=256),
    )
    yield (
        kernels.deliver_spikes,
        dict(spikes=f, weights=f, delays=i32, arrivals=f),
        dict(ROWS=2, BLOCK_PRE=1024, BLOCK_POST=256),
    )
    for with_effect in (True, False):
        yield (
            kernels.gather_gradients,
            dict(spikes=i8, weights=f, delays=i32, adj_i=f, shift=f, weight_grad=f, delay_grad=f, time_effect=f),
            dict(WITH_TIME_EFFECT=with_effect, ROWS=8, BLOCK_PRE=256, BLOCK_POST=256),
        )
    for is_lif, recurrent in ((True, True), (True, False), (False, False)):
        yield (
            kernels.neuron_forward,
            dict(arrivals=f, spikes=i8, trace=f, rest=f, bias=f, **neuron),
            dict(IS_LIF=is_lif, HAS_RECURRENCE=recurrent, BLOCK=256),
        )
        yield (
            kernels.neuron_adjoint,
            dict(spikes=i8, drive=f, readout_grad=f, count_grad=f, time_effect=f, adj_i=f, shift=f, **neuron),
            dict(IS_LIF=is_lif, HAS_RECURRENCE=recurrent, BLOCK=256),
        )


def main() -> int:
    target = GPUTarget("cuda", 90, 32)
    failures = 0
    for float_pointer in ("*fp32", "*fp64"):
        for kernel, pointers, constexprs in variants(float_pointer):
            names = inspect.signature(kernel.fn).parameters
            signature = {name: pointers.get(name, "i32") for name in names if name not in constexprs}
            signature.update({name: "constexpr" for name in constexprs})
            try:
                compiled = triton.compile(ASTSource(kernel, signature, constexprs), target=target)
                print(f"ok {kernel.fn.__name__} {float_pointer} {constexprs} cubin {len(compiled.asm['cubin'])} B")
            except Exception as error:  # report every variant, then fail
                failures += 1
                print(f"FAILED {kernel.fn.__name__} {float_pointer} {constexprs}: {error}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
