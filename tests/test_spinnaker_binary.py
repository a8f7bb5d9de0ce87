"""The rounding the reference simulator assumes, read from the installed sPyNNaker's own IF_curr_exp binary.

The 1!7.4.1 ``IF_curr_exp.aplx`` computes every ``accum * accum`` product as ``smull`` followed by
``(hi << 17) | (lo >> 15)``: bits 46..15 of the signed product, i.e. floor, with no rounding term.
Its synapse set-up computes ``1.0ulr - decay`` as ``0xFFFFFFFF - decay`` (``mvn rX, #0``).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

capstone = pytest.importorskip("capstone", reason="capstone (the spinnaker extra) disassembles the binary")
spynnaker = pytest.importorskip("spynnaker", reason="the spinnaker extra ships IF_curr_exp.aplx")

APLX_RCOPY = 2


def itcm_instructions() -> list:
    path = Path(spynnaker.__file__).parent / "pyNN" / "model_binaries" / "IF_curr_exp.aplx"
    data = path.read_bytes()
    op, destination, source, size = struct.unpack("<4I", data[:16])
    assert (op, destination) == (APLX_RCOPY, 0), "first APLX entry should copy the code to ITCM 0"
    code = data[source : source + size]  # an RCOPY source is relative to its own entry
    disassembler = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_ARM)
    disassembler.skipdata = True
    return list(disassembler.disasm(code, 0))


def accum_products(instructions: list) -> list[list]:
    """Windows of the ``smull`` ... ``lsl hi, #17`` ... ``orr x, hi, lo, lsr #15`` idiom."""
    found = []
    for index, instruction in enumerate(instructions):
        if instruction.mnemonic != "smull":
            continue
        window = instructions[index : index + 4]
        text = [f"{i.mnemonic} {i.op_str}" for i in window]
        if any(t.startswith("lsl") and t.endswith("#0x11") for t in text) and any(
            t.startswith("orr") and t.endswith("lsr #15") for t in text
        ):
            found.append(window)
    return found


def test_membrane_multiplies_keep_bits_46_to_15_without_rounding():
    products = accum_products(itcm_instructions())
    assert len(products) >= 2, "the two membrane multiplies of the LIF update were not found"
    for window in products:
        low_register = window[0].op_str.split(",")[0].strip()
        for instruction in window[1:]:
            # a rounding variant would add 0x4000 (2^14) to the low word before shifting
            assert not (
                instruction.mnemonic in ("adds", "add")
                and "#0x4000" in instruction.op_str
                and low_register in instruction.op_str
            )


def test_membrane_update_subtracts_the_decayed_difference():
    instructions = itcm_instructions()
    products = accum_products(instructions)
    # V = alpha - exp_TC * (alpha - V): two products in a row, the second followed by a subtraction
    consecutive = [(a, b) for a, b in zip(products, products[1:]) if 0 < b[0].address - a[0].address <= 0x20]
    assert consecutive, "no pair of consecutive accum products (I*R, then exp_TC*(alpha - V))"
    first, second = consecutive[0]
    after = [i for i in instructions if second[0].address < i.address <= second[0].address + 0x10]
    assert any(i.mnemonic == "sub" for i in after)


def test_one_minus_decay_uses_the_largest_u032_value():
    instructions = itcm_instructions()
    pairs = [
        (a, b)
        for a, b in zip(instructions, instructions[1:])
        if a.mnemonic == "mvn"
        and a.op_str.endswith("#0")
        and b.mnemonic == "sub"
        and b.op_str.split(",")[1].strip() == a.op_str.split(",")[0].strip()
    ]
    assert pairs, "1.0ulr - decay (mvn #0; sub) not found in the synapse set-up"
