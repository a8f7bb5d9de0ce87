"""Find, by structure, the routines and data of a compiled IF_curr_exp core that the emulator calls.

Nothing here is a bare address: each routine is recognised by what it does, then the result is
checked against :data:`KNOWN_RELEASES` for the installed sPyNNaker version. Any disagreement is an
:class:`~neurodelay.errors.ExecutorError` that says what was found, never a silent guess.

Signatures (all on the ARM code copied to ITCM; functions are the targets of ``bl`` instructions):

* **.bss anchor**: one literal-pool word, inside the image's .bss range, that both the neuron update
  and the ring-buffer transfer load into a register and use as the base of the core's static
  variables (section anchor); the field offsets below are relative to it.
* **neuron update** (``neuron_impl_do_timestep_update`` with the LIF model inlined): the only
  function that walks 32-byte ``neuron_t`` records (``add rd, rn, rm, lsl #5``) and contains the
  s16.15 multiply idiom twice: ``smull lo, hi, a, b`` then ``lsl x, hi, #17`` and
  ``orr x, x, lo, lsr #15`` (bits 46..15 of the 64-bit product: a floor-rounded ``accum * accum``).
* **ring-buffer transfer** (``neuron_transfer``): loads the anchor, walks the uint16 ring-buffer
  block with ``ldrh rX, [rY, #2]!``, shifts each entry left by a register (the ring-buffer shift),
  and adds it with a signed 32x32->64 multiply (``umull`` + ``mla``, the u0.32 ``init`` factor).
* **timer callback**: calls the transfer with ``bl`` and holds, in its literal pool, the address of
  the scheduled background callback, which calls the neuron update with ``bl`` (the chip's order:
  transfer, then update, in every tick).
* **synaptic-row processing** (``synapses_process_synaptic_row``): the function that reads a ring
  entry with ``ldrh rX, [rA, rB]``, adds a weight, tests the sum against the literal 0xffff0000
  (``tst``: saturation) and writes it back with ``strh rX, [rA, rB]``. Its static variables sit at
  a second .bss anchor (ring-buffer pointer and masks, saturation and skip counters).
* **parameter loader** (``neuron_impl_load_neuron_parameters``): loads the anchor and walks the
  host's 36-byte LIF parameter records (``add rX, rX, #0x24``), 32-byte ``neuron_t`` records and
  24-byte synapse records (``add rX, rX, #0x18``) and calls the divide and exponential routines
  (the state write-back routine walks the same records but calls nothing). Calling it derives R_membrane, exp_TC,
  T_refract and the synaptic decay/init on the emulated core.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Iterable

from ....errors import ExecutorError
from .aplx import AplxImage, ITCM_BASE

CALL = re.compile(r"^#0x([0-9a-f]+)$")
LITERAL_LOAD = re.compile(r"^(\w+), \[pc, #(-?0x[0-9a-f]+|-?\d+)\]$")
MEMORY_OPERAND = re.compile(r"^(\w+), \[(\w+)(?:, #(-?0x[0-9a-f]+|-?\d+))?\]$")


@dataclass(frozen=True)
class Instruction:
    address: int
    mnemonic: str
    operands: str


@dataclass(frozen=True)
class CoreLayout:
    """Where the emulator finds what it needs in one binary (addresses in the core's memory map).

    neuron_update(time), neuron_transfer(ring_block_address), load_parameters(address, n_neurons,
    save_address) are ITCM entry points; ``globals_anchor`` is the DTCM address of the static
    variables; ``fields`` maps each variable the emulator sets or reads to its byte offset from the
    anchor; ``anchor_offsets`` lists, per routine, every anchor offset it touches (the fingerprint).
    """

    release: str
    neuron_update: int
    neuron_transfer: int
    load_parameters: int
    timer_callback: int
    globals_anchor: int
    fields: dict[str, int]
    anchor_offsets: dict[str, tuple[int, ...]]
    process_synaptic_row: int = 0
    synapse_anchor: int = 0
    synapse_fields: dict[str, int] | None = None

    def located_part(self) -> tuple:
        """What :func:`locate` finds by structure (the fingerprint compared with a verified release)."""
        return (
            self.neuron_update,
            self.neuron_transfer,
            self.load_parameters,
            self.timer_callback,
            self.globals_anchor,
            self.anchor_offsets,
            self.process_synaptic_row,
            self.synapse_anchor,
        )


# Fields of the static-variable block (offsets from the anchor) and what the emulator puts there:
#   value_recording_control  -> {rate, count, increment, ...} x3 (v, gsyn_exc, gsyn_inh): never due
#   value_buffers / value_indexes -> 3 pointers each: where the update stores V, I_exc, I_inh per neuron
#   spike_recording_control  -> {rate, count, increment, _, n_words, words}: never due
#   spike_bitfield / spike_indexes -> pointer to pointer: the spike bits the update sets per neuron
#   n_steps_per_timestep, neuron_array, synapse_array, threshold_array, n_neurons, n_current_sources,
#   use_key (byte: 0 = send no packets), n_neurons_peak (neurons per synapse type in a ring block),
#   n_synapse_types, ring_buffer_shifts (pointer to uint32 per synapse type)
# Fields of the synapse block (offsets from the synapse anchor):
#   type_index_bits (neuron bits + synapse-type bits), delay_mask (D - 1), delay_field_mask
#   ((D - 1) << type_index_bits: a row's delay field, for the late-packet check), ring_buffer_mask
#   (entries - 1), ring_buffers (pointer), saturation_count, skipped_synapses (late), processed_synapses
KNOWN_RELEASES: dict[str, CoreLayout] = {
    "1!7.4.1": CoreLayout(
        release="1!7.4.1",
        neuron_update=0x220C,
        neuron_transfer=0x2928,
        load_parameters=0x16B4,
        timer_callback=0x3F4,
        globals_anchor=0x400168,
        fields=dict(
            value_recording_control=0x00,
            value_buffers=0x04,
            value_indexes=0x08,
            spike_recording_control=0x0C,
            spike_bitfield=0x10,
            spike_indexes=0x14,
            n_steps_per_timestep=0x4C,
            neuron_array=0x50,
            synapse_array=0x54,
            threshold_array=0x58,
            n_neurons=0x5C,
            n_current_sources=0x64,
            use_key=0x70,
            n_neurons_peak=0x74,
            n_synapse_types=0x78,
            ring_buffer_shifts=0x80,
        ),
        anchor_offsets=dict(
            neuron_update=(
                0x0,
                0x4,
                0x8,
                0xC,
                0x10,
                0x14,
                0x20,
                0x30,
                0x34,
                0x38,
                0x3C,
                0x40,
                0x44,
                0x48,
                0x4C,
                0x50,
                0x54,
                0x58,
                0x5C,
                0x64,
                0x70,
                0x7C,
                0x84,
                0x88,
                0x8C,
            ),
            neuron_transfer=(0x54, 0x5C, 0x74, 0x78, 0x80),
            load_parameters=(0x0, 0x18, 0x4C, 0x50, 0x54, 0x58),
            process_synaptic_row=(0xC, 0x28, 0x2C, 0x38, 0x3C, 0x40, 0x44, 0x48, 0x4C, 0x50),
        ),
        process_synaptic_row=0xC08,
        synapse_anchor=0x400114,
        synapse_fields=dict(
            type_index_bits=0x0C,
            delay_mask=0x28,
            delay_field_mask=0x2C,
            ring_buffer_mask=0x38,
            ring_buffers=0x3C,
            processed_synapses=0x48,
            skipped_synapses=0x4C,
            saturation_count=0x50,
        ),
    ),
}


def disassemble(image: AplxImage) -> list[Instruction]:
    """The ITCM image as ARM instructions (data words that decode to nothing are skipped)."""
    try:
        import capstone
    except ImportError as error:  # part of the `spinnaker` extra
        raise ExecutorError(
            f"capstone is needed to locate routines in {image.path.name} ({error}); "
            "install the project's `spinnaker` extra"
        ) from None
    decoder = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_ARM)
    decoder.skipdata = True
    return [
        Instruction(i.address, i.mnemonic, i.op_str)
        for i in decoder.disasm(image.itcm, ITCM_BASE)
        if i.mnemonic != ".byte"
    ]


def _word(code: bytes, address: int) -> int | None:
    if 0 <= address - ITCM_BASE <= len(code) - 4:
        return struct.unpack_from("<I", code, address - ITCM_BASE)[0]
    return None


def _int(text: str | None) -> int:
    return 0 if text is None else int(text, 0)


class _Program:
    """Instructions grouped into functions (a function runs from one ``bl`` target to the next)."""

    def __init__(self, image: AplxImage) -> None:
        self.code = image.itcm
        self.instructions = disassemble(image)
        targets = set()
        for instruction in self.instructions:
            match = CALL.match(instruction.operands)
            if instruction.mnemonic in ("bl", "blx") and match:
                targets.add(int(match.group(1), 16))
        # callbacks are registered by address (a literal-pool word pointing at a ``push``), not called
        pushes = {i.address for i in self.instructions if i.mnemonic == "push" and "lr" in i.operands}
        for instruction in self.instructions:
            match = LITERAL_LOAD.match(instruction.operands)
            if instruction.mnemonic == "ldr" and match:
                value = _word(self.code, instruction.address + 8 + _int(match.group(2)))
                if value in pushes:
                    targets.add(value)
        self.entries = sorted(targets)
        self.functions: dict[int, list[Instruction]] = {entry: [] for entry in self.entries}
        for instruction in self.instructions:
            entry = self.function_of(instruction.address)
            if entry is not None:
                self.functions[entry].append(instruction)

    def function_of(self, address: int) -> int | None:
        lo, hi = 0, len(self.entries)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.entries[mid] <= address:
                lo = mid + 1
            else:
                hi = mid
        return self.entries[lo - 1] if lo else None

    def literal_loads(self, entry: int) -> list[tuple[str, int]]:
        """``(register, value)`` for every ``ldr reg, [pc, #imm]`` of the function."""
        loads = []
        for instruction in self.functions[entry]:
            match = LITERAL_LOAD.match(instruction.operands)
            if instruction.mnemonic == "ldr" and match:
                value = _word(self.code, instruction.address + 8 + _int(match.group(2)))
                if value is not None:
                    loads.append((match.group(1), value))
        return loads

    def calls(self, entry: int) -> set[int]:
        called = set()
        for instruction in self.functions[entry]:
            match = CALL.match(instruction.operands)
            if instruction.mnemonic in ("bl", "blx") and match:
                called.add(int(match.group(1), 16))
        return called

    def anchor_offsets(self, entry: int, anchor: int) -> tuple[int, ...]:
        """Offsets of every load/store whose base register holds ``anchor`` (loaded from the pool)."""
        registers = {register for register, value in self.literal_loads(entry) if value == anchor}
        offsets = set()
        for instruction in self.functions[entry]:
            match = MEMORY_OPERAND.match(instruction.operands)
            if match and instruction.mnemonic.startswith(("ldr", "str")) and match.group(2) in registers:
                offsets.add(_int(match.group(3)))
        return tuple(sorted(offsets))


def _count(instructions: Iterable[Instruction], mnemonic: str, pattern: str) -> int:
    regex = re.compile(pattern)
    return sum(1 for i in instructions if i.mnemonic == mnemonic and regex.search(i.operands))


def _accum_multiplies(instructions: list[Instruction]) -> int:
    """How many ``smull lo, hi, a, b; ...; lsl x, hi, #17; orr x, x, lo, lsr #15`` sequences there are."""
    found = 0
    for index, instruction in enumerate(instructions):
        if instruction.mnemonic != "smull":
            continue
        lo, hi = [part.strip() for part in instruction.operands.split(",")[:2]]
        window = instructions[index + 1 : index + 4]
        shifted = [
            i.operands.split(",")[0]
            for i in window
            if i.mnemonic == "lsl" and re.fullmatch(rf"\w+, {hi}, #(?:0x11|17)", i.operands)
        ]
        if any(
            i.mnemonic == "orr" and re.fullmatch(rf"{x}, {x}, {lo}, lsr #(?:0xf|15)", i.operands)
            for x in shifted
            for i in window
        ):
            found += 1
    return found


def _unique(candidates: list[int], what: str, image: AplxImage) -> int:
    if len(candidates) != 1:
        found = ", ".join(f"0x{c:x}" for c in candidates) or "none"
        raise ExecutorError(
            f"{image.path.name}: the {what} signature matched {len(candidates)} routines "
            f"({found}); expected exactly one. This is not an IF_curr_exp binary this "
            "emulator knows: see docs/emulated_core.md, 'Another release'"
        )
    return candidates[0]


def locate(image: AplxImage) -> CoreLayout:
    """Find the routines and the anchor by structure (unchecked; see :func:`checked_layout`)."""
    program = _Program(image)
    functions = program.functions
    update = _unique(
        [e for e, body in functions.items() if _accum_multiplies(body) >= 2 and _count(body, "add", r", lsl #5$")],
        "neuron update (32-byte neuron_t stride + two smull/lsl #17/orr lsr #15)",
        image,
    )
    transfer = _unique(
        [
            e
            for e, body in functions.items()
            if _count(body, "ldrh", r"\[\w+, #2\]!$")
            and _count(body, "lsl", r"^\w+, \w+, \w+$")
            and _count(body, "umull", "")
            and _count(body, "mla", "")
            and _count(body, "strh", "")
        ],
        "ring-buffer transfer (ldrh [rN, #2]! + lsl by register + umull/mla)",
        image,
    )
    anchors = {value for _, value in program.literal_loads(update)} & {
        value for _, value in program.literal_loads(transfer)
    }
    anchors = [a for a in anchors if image.bss_start <= a < image.bss_end]
    anchor = _unique(sorted(anchors), ".bss anchor (literal shared by update and transfer inside .bss)", image)
    timer = _unique(
        [
            e
            for e in program.entries
            if transfer in program.calls(e)
            and any(value in functions and update in program.calls(value) for _, value in program.literal_loads(e))
        ],
        "timer callback (calls the transfer, schedules a callback that calls the update)",
        image,
    )
    loader = _unique(
        [
            e
            for e, body in functions.items()
            if anchor in {v for _, v in program.literal_loads(e)}
            and _count(body, "add", r"^(\w+), \1, #0x24$")
            and _count(body, "add", r"^(\w+), \1, #0x18$")
            and _count(body, "add", r", lsl #5$")
            and len(program.calls(e)) >= 3
        ],
        "parameter loader (36-byte parameter, 32-byte neuron and 24-byte synapse strides, "
        "calls to the divide and exponential routines)",
        image,
    )
    saturation_literals = {e for e, body in functions.items() if 0xFFFF0000 in {v for _, v in program.literal_loads(e)}}
    row = _unique(
        [
            e
            for e in sorted(saturation_literals)
            if _count(functions[e], "tst", r"^\w+, \w+$")
            and _count(functions[e], "ldrh", r"\[\w+, \w+\]$")
            and _count(functions[e], "strh", r"\[\w+, \w+\]$")
        ],
        "synaptic-row processing (ldrh/strh [rA, rB] around a tst with 0xffff0000)",
        image,
    )
    synapse_anchor = _unique(
        sorted({v for _, v in program.literal_loads(row) if image.bss_start <= v < image.bss_end}),
        "synapse .bss anchor (literal of the row processing inside .bss)",
        image,
    )
    offsets = {
        name: program.anchor_offsets(entry, anchor)
        for name, entry in (("neuron_update", update), ("neuron_transfer", transfer), ("load_parameters", loader))
    }
    offsets["process_synaptic_row"] = program.anchor_offsets(row, synapse_anchor)
    return CoreLayout("(located)", update, transfer, loader, timer, anchor, {}, offsets, row, synapse_anchor, {})


def installed_release() -> str:
    """The installed sPyNNaker version string, e.g. ``1!7.4.1``."""
    try:
        from spynnaker._version import __version__
    except ImportError as error:
        raise ExecutorError(f"sPyNNaker is not installed ({error}); install the project's `spinnaker` extra") from None
    return str(__version__)


def checked_layout(image: AplxImage, release: str) -> CoreLayout:
    """Locate the routines in ``image`` and check them against the verified layout of ``release``."""
    located = locate(image)
    known = KNOWN_RELEASES.get(release)
    described = (
        f"located: update 0x{located.neuron_update:x}, transfer 0x{located.neuron_transfer:x}, "
        f"loader 0x{located.load_parameters:x}, timer callback 0x{located.timer_callback:x}, "
        f"row processing 0x{located.process_synaptic_row:x}, anchors 0x{located.globals_anchor:x} and "
        f"0x{located.synapse_anchor:x}, anchor offsets {located.anchor_offsets}"
    )
    if known is None:
        raise ExecutorError(
            f"sPyNNaker {release} is not a release the emulated core has been verified on "
            f"(known: {', '.join(KNOWN_RELEASES)}); {described}. See docs/emulated_core.md, "
            "'Another release', to verify and add it"
        )
    if located.located_part() != known.located_part():
        raise ExecutorError(
            f"{image.path}: the binary does not match the verified layout of sPyNNaker {release} "
            f"({described}); refusing to guess. See docs/emulated_core.md, 'Another release'"
        )
    return known
