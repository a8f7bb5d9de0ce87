"""One SpiNNaker core running sPyNNaker's compiled IF_curr_exp code under the unicorn ARM emulator.

The image is loaded as the chip's boot loader would (APLX sections into ITCM/DTCM, .bss zeroed).
The host then plays the part of the pieces of the application that are not emulated (memory
allocation, data-specification regions, recording buffers): it lays out, in an emulated SDRAM
window, the parameter region in sPyNNaker's format and the arrays the neuron code works on, and
points the core's static variables at them. Recording and packet sending are switched off
(``use_key = 0``; recording rates that never fall due), so no hardware peripheral is touched; any
access outside the mapped memory stops the run with an :class:`ExecutorError`.

Per tick the executor calls, as the timer callback does: ``neuron_transfer(ring block of the tick)``,
then ``neuron update(time)``, and reads the spike bits, V and the values the update stores for
recording. Then, for every spike of the tick that targets this core, it calls the binary's
``synapses_process_synaptic_row`` on that neuron's synaptic row (the row sits in emulated SDRAM, so
the DMA that would fetch it is a no-op), which adds each synapse's weight into the core's own ring
buffer, saturating and counting as the chip does.

Synaptic rows (static synapses, sPyNNaker 7 format), 32-bit words: ``0`` (no plastic region),
``n_fixed``, ``0`` (no plastic-control words), then per synapse
``weight << 16 | (delay mod D) << (A + 1) | synapse_type << A | neuron``, A = neuron-index bits.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Hashable, Mapping

import numpy as np

from ....errors import ExecutorError
from .aplx import DTCM_BASE, DTCM_SIZE, ITCM_BASE, ITCM_SIZE, AplxImage, read_aplx
from .description import IfCurrExpParameters, n_bits
from .signatures import CoreLayout, checked_layout, installed_release

SDRAM_BASE = 0x6000_0000
RETURN_ADDRESS = 0x7000_0000
"""Where emulated calls return to (mapped, never executed: emulation stops on reaching it)."""
CODE_PAGE = 0x7100_0000
"""Two host routines (ARM, ARMv5TE) that let one emulation run do what took several calls; the
argument blocks they read sit on the next page (a host write to a page holding translated code
would make the emulator translate the routines again). Registers r4-r9 survive the binary's
functions (AAPCS callee-saved); each routine ends in a branch to itself, where emulation stops."""
ARGUMENT_PAGE = CODE_PAGE + 0x1000
TICK_ROUTINE = CODE_PAGE
TICK_ARGUMENTS = ARGUMENT_PAGE
TICK_WORDS = (
    0xE59F4024,  # 0x00  ldr   r4, [pc, #0x24]     r4 = argument block (literal at 0x2c)
    0xE59FD024,  # 0x04  ldr   sp, [pc, #0x24]     sp = STACK_TOP (literal at 0x30)
    0xE89403E1,  # 0x08  ldm   r4, {r0, r5-r9}     ring block, time, transfer, update, spikes, spike words
    0xE12FFF36,  # 0x0c  blx   r6                  neuron_transfer(ring block)
    0xE3A01000,  # 0x10  mov   r1, #0
    0xE4881004,  # 0x14  str   r1, [r8], #4        clear the spike bit field, one word at a time
    0xE2599001,  # 0x18  subs  r9, r9, #1
    0x1AFFFFFC,  # 0x1c  bne   0x14
    0xE1A00005,  # 0x20  mov   r0, r5
    0xE12FFF37,  # 0x24  blx   r7                  neuron update(time)
    0xEAFFFFFE,  # 0x28  b     0x28                done
)
"""One tick of the core, as the timer callback orders it: the tick's ring-buffer slot into the
synaptic inputs, the spike bits cleared, the neurons updated."""
TICK_END = TICK_ROUTINE + 0x28
ROW_LOOP = CODE_PAGE + 0x40
ROW_ARGUMENTS = ARGUMENT_PAGE + 0x20
ROW_LOOP_WORDS = (
    0xE59F402C,  # 0x00  ldr   r4, [pc, #0x2c]     r4 = argument block (literal at 0x34)
    0xE59FD02C,  # 0x04  ldr   sp, [pc, #0x2c]     sp = STACK_TOP - 8 (literal at 0x38)
    0xE8B403E0,  # 0x08  ldm   r4!, {r5-r9}        time, colour, colour mask, write-back, entry
    0xE4943004,  # 0x0c  ldr   r3, [r4], #4        next row address (0 ends the list)
    0xE3530000,  # 0x10  cmp   r3, #0
    0x0A000005,  # 0x14  beq   0x30
    0xE1A00005,  # 0x18  mov   r0, r5
    0xE1A01006,  # 0x1c  mov   r1, r6
    0xE1A02007,  # 0x20  mov   r2, r7
    0xE58D8000,  # 0x24  str   r8, [sp]            5th argument on the stack
    0xE12FFF39,  # 0x28  blx   r9                  synapses_process_synaptic_row(r0..r3, [sp])
    0xEAFFFFF6,  # 0x2c  b     0x0c
    0xEAFFFFFE,  # 0x30  b     0x30                end of the list: done
)
"""``synapses_process_synaptic_row`` called on a list of rows, in order."""
ROW_LOOP_END = ROW_LOOP + 0x30
STACK_TOP = DTCM_BASE + DTCM_SIZE
NEURON_RECORD_BYTES = 32
"""``neuron_t``: V, V_rest, R_membrane, exp_TC, I_offset, refract_timer, V_reset, T_refract (int32 each)."""
SYNAPSE_RECORD_BYTES = 24
"""Exponential synapse state: exc {decay u0.32, init u0.32, I s16.15}, inh {decay, init, I}."""
PARAMETER_RECORD_WORDS = 9
SYNAPSE_PARAMETER_WORDS = 5
RECORDED_VALUES = 3  # v, gsyn_exc, gsyn_inh in this order
COLOUR_MASK = 0xF  # sPyNNaker's default 4 colour bits; a spike's colour is its tick mod 16


def application_path() -> Path:
    """The ``IF_curr_exp.aplx`` shipped in the installed sPyNNaker wheel."""
    try:
        import spynnaker
    except ImportError as error:
        raise ExecutorError(f"sPyNNaker is not installed ({error}); install the project's `spinnaker` extra") from None
    path = Path(spynnaker.__file__).parent / "pyNN" / "model_binaries" / "IF_curr_exp.aplx"
    if not path.is_file():
        raise ExecutorError(f"the installed sPyNNaker has no {path}")
    return path


@lru_cache(maxsize=4)
def load_application(path: str | None = None, release: str | None = None) -> tuple[AplxImage, CoreLayout]:
    """Read and check the core application once per process (default: the installed wheel's)."""
    image = read_aplx(path or application_path())
    return image, checked_layout(image, release or installed_release())


def parameter_region(parameters: IfCurrExpParameters) -> bytes:
    """The neuron-parameter region exactly as sPyNNaker writes it for IF_curr_exp (little-endian words).

    n_steps_per_timestep; per neuron {V_init, V_rest, cm, tau_m, I_offset, V_reset, tau_refrac,
    refract_timer, timestep}; per neuron V_thresh; per neuron {tau_syn_E, isyn_exc, tau_syn_I,
    isyn_inh, timestep}. (InputTypeCurrent and the absent additional input have no words.)
    """
    p = parameters
    n = p.size
    timestep = np.full(n, p.timestep_ms, np.int64)
    neuron = np.stack(
        [
            p.v_init_mv,
            p.v_rest_mv,
            p.cm_nf,
            p.tau_m_ms,
            p.i_offset_na,
            p.v_reset_mv,
            p.tau_refrac_ms,
            p.refract_timer_steps,
            timestep,
        ],
        axis=1,
    )
    synapse = np.stack([p.tau_syn_e_ms, p.isyn_exc_na, p.tau_syn_i_ms, p.isyn_inh_na, timestep], axis=1)
    words = np.concatenate([[p.n_steps_per_timestep], neuron.ravel(), p.v_thresh_mv, synapse.ravel()])
    return words.astype("<i4").tobytes()


@dataclass(frozen=True)
class DerivedConstants:
    """What the binary's loader computed, per neuron (int64 ``[n]``).

    r_membrane, exp_tc: s16.15 bits; t_refract: timesteps; decay/init exc/inh: u0.32 bits.
    """

    r_membrane: np.ndarray
    exp_tc: np.ndarray
    t_refract: np.ndarray
    decay_exc: np.ndarray
    init_exc: np.ndarray
    decay_inh: np.ndarray
    init_inh: np.ndarray


@dataclass(frozen=True)
class StepResult:
    """One tick of one core: spikes bool ``[n]``; int64 ``[n]`` s16.15 bits: ``v`` after the update
    (after threshold and reset), and what the update stores for recording (taken after the tick's
    ring-buffer input, before the membrane update and the synaptic decay): ``v_recorded``,
    ``i_exc``, ``i_inh``."""

    spikes: np.ndarray
    v: np.ndarray
    v_recorded: np.ndarray
    i_exc: np.ndarray
    i_inh: np.ndarray


class _Heap:
    """Bump allocator in the emulated SDRAM window (word aligned)."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.top = base

    def take(self, n_bytes: int) -> int:
        address = self.top
        self.top += (n_bytes + 7) // 8 * 8
        return address


def synaptic_word(
    weight: np.ndarray,
    delay_steps: np.ndarray,
    synapse_type: int,
    neuron: np.ndarray,
    neuron_bits: int,
    delay_slots: int,
) -> np.ndarray:
    """The 32-bit static synaptic words (uint32) of synapses onto a core with ``neuron_bits`` and ``D`` slots."""
    delay_field = np.asarray(delay_steps, np.int64) & (delay_slots - 1)  # D itself is stored as 0
    return (
        (np.asarray(weight, np.int64) << 16)
        | (delay_field << (neuron_bits + 1))
        | (synapse_type << neuron_bits)
        | np.asarray(neuron, np.int64)
    ).astype(np.uint32)


class EmulatedCore:
    """One core: ``size`` neurons with ``parameters``, ring-buffer ``shifts`` (exc, inh), ``neuron_bits``
    (A) and ``delay_slots`` (D) for its ring buffer, and its incoming synaptic ``rows`` (key -> words,
    as made by :func:`synaptic_word`)."""

    def __init__(
        self,
        parameters: IfCurrExpParameters,
        shifts: tuple[int, int],
        *,
        delay_slots: int = 1,
        neuron_bits: int | None = None,
        rows: Mapping[Hashable, np.ndarray] | None = None,
        application: tuple[AplxImage, CoreLayout] | None = None,
    ) -> None:
        try:
            from unicorn import Uc, UcError, UC_ARCH_ARM, UC_MODE_ARM
            from unicorn.arm_const import UC_CPU_ARM_926
        except ImportError as error:
            raise ExecutorError(
                f"the unicorn CPU emulator is needed ({error}); install the project's `spinnaker` extra"
            ) from None
        self._uc_error = UcError
        self.image, self.layout = application or load_application()
        self.parameters = parameters
        self.size = n = parameters.size
        self.neuron_bits = n_bits(n) if neuron_bits is None else neuron_bits
        if (1 << self.neuron_bits) < n or delay_slots < 1 or delay_slots & (delay_slots - 1):
            raise ExecutorError(
                f"core of {n} neurons: neuron_bits {self.neuron_bits} / delay_slots {delay_slots} "
                "do not fit (need 2^bits >= neurons and D a power of two)"
            )
        self.delay_slots = delay_slots
        self.peak = 1 << self.neuron_bits
        self.uc = uc = Uc(UC_ARCH_ARM, UC_MODE_ARM)
        uc.ctl_set_cpu_model(UC_CPU_ARM_926)  # ARMv5TE, as the ARM968E-S of SpiNNaker 1
        uc.mem_map(ITCM_BASE, ITCM_SIZE)
        uc.mem_map(DTCM_BASE, DTCM_SIZE)
        uc.mem_map(RETURN_ADDRESS, 0x1000)
        uc.mem_map(CODE_PAGE, 0x1000)
        for address, words, literals in (
            (TICK_ROUTINE, TICK_WORDS, (TICK_ARGUMENTS, STACK_TOP)),
            (ROW_LOOP, ROW_LOOP_WORDS, (ROW_ARGUMENTS, STACK_TOP - 8)),
        ):
            uc.mem_write(address, struct.pack(f"<{len(words) + 2}I", *words, *literals))
        for section in self.image.sections:
            uc.mem_write(section.address, section.data)
        heap = _Heap(SDRAM_BASE)
        region = parameter_region(parameters)
        self.parameter_address = heap.take(len(region))
        self.neuron_address = heap.take(n * NEURON_RECORD_BYTES)
        self.synapse_address = heap.take(n * SYNAPSE_RECORD_BYTES)
        self.threshold_address = heap.take(n * 4)
        self.shift_address = heap.take(8)
        ring_entries = delay_slots << (self.neuron_bits + 1)
        self.ring_address = heap.take(2 * ring_entries)
        self.ring_entries = ring_entries
        self.row_addresses: dict[Hashable, int] = {}
        row_blobs = []
        for key, words in (rows or {}).items():
            blob = np.concatenate([[0, len(words), 0], np.asarray(words, np.uint32)]).astype("<u4").tobytes()
            self.row_addresses[key] = heap.take(len(blob))
            row_blobs.append((self.row_addresses[key], blob))
        self.write_back_address = heap.take(4)
        self.spike_words = (n + 31) // 32
        self.spike_address = heap.take(self.spike_words * 4)
        value_control, spike_control = heap.take(0x48), heap.take(0x18)
        value_block = heap.take(RECORDED_VALUES * n * 4)
        value_buffers = [value_block + 4 * n * index for index in range(RECORDED_VALUES)]
        value_indexes = [heap.take(n * 2) for _ in range(RECORDED_VALUES)]
        spike_indexes = heap.take(n * 2)
        pointers = heap.take(8 * 4)
        self.value_buffer_address = value_block
        size = (heap.top - SDRAM_BASE + 0xFFF) & ~0xFFF
        uc.mem_map(SDRAM_BASE, size)
        row_argument_bytes = ROW_ARGUMENTS - ARGUMENT_PAGE + 4 * (5 + len(self.row_addresses) + 1)
        uc.mem_map(ARGUMENT_PAGE, (row_argument_bytes + 0xFFF) & ~0xFFF)
        write = uc.mem_write
        write(self.parameter_address, region)
        for address, blob in row_blobs:
            write(address, blob)
        write(self.shift_address, struct.pack("<2I", *shifts))
        identity = np.arange(n, dtype="<u2").tobytes()
        for address in (*value_indexes, spike_indexes):
            write(address, identity)
        # recording controls {rate, count, increment}: count never reaches rate, so nothing falls due
        for base, blocks in ((value_control + 4, RECORDED_VALUES), (spike_control, 1)):
            for block in range(blocks):
                write(base + 0x18 * block, struct.pack("<3I", 1, 0, 0))
        write(pointers, struct.pack("<8I", *value_buffers, *value_indexes, self.spike_address, spike_indexes))
        fields = self.layout.fields
        anchor = self.layout.globals_anchor
        globals_ = {
            "value_recording_control": value_control,
            "value_buffers": pointers,
            "value_indexes": pointers + 12,
            "spike_recording_control": spike_control,
            "spike_bitfield": pointers + 24,
            "spike_indexes": pointers + 28,
            "neuron_array": self.neuron_address,
            "synapse_array": self.synapse_address,
            "threshold_array": self.threshold_address,
            "n_neurons": n,
            "n_current_sources": 0,
            "n_neurons_peak": self.peak,
            "n_synapse_types": 2,
            "ring_buffer_shifts": self.shift_address,
        }
        for name, value in globals_.items():
            write(anchor + fields[name], struct.pack("<I", value))
        write(anchor + fields["use_key"], b"\0")
        type_index_bits = self.neuron_bits + 1
        synapse_globals = {
            "type_index_bits": type_index_bits,
            "delay_mask": delay_slots - 1,
            "delay_field_mask": (delay_slots - 1) << type_index_bits,
            "ring_buffer_mask": ring_entries - 1,
            "ring_buffers": self.ring_address,
        }
        for name, value in synapse_globals.items():
            write(self.layout.synapse_anchor + self.layout.synapse_fields[name], struct.pack("<I", value))
        self.reset()

    # ----- calls into the binary -------------------------------------------------------------
    def _call(self, entry: int, *arguments: int) -> None:
        """Call ``entry`` with up to 4 register arguments and further ones on the stack."""
        from unicorn.arm_const import UC_ARM_REG_LR, UC_ARM_REG_R0, UC_ARM_REG_SP

        uc = self.uc
        for index, value in enumerate(arguments[:4]):
            uc.reg_write(UC_ARM_REG_R0 + index, value & 0xFFFF_FFFF)
        stacked = arguments[4:]
        stack = STACK_TOP - 8 * ((len(stacked) + 1) // 2)
        if stacked:
            uc.mem_write(stack, struct.pack(f"<{len(stacked)}I", *(v & 0xFFFF_FFFF for v in stacked)))
        uc.reg_write(UC_ARM_REG_SP, stack)
        uc.reg_write(UC_ARM_REG_LR, RETURN_ADDRESS)
        self._run(entry, RETURN_ADDRESS)

    def _run(self, entry: int, until: int) -> None:
        """Emulate from ``entry`` until the program counter reaches ``until``."""
        from unicorn.arm_const import UC_ARM_REG_PC

        uc = self.uc
        try:
            uc.emu_start(entry, until)
        except self._uc_error as error:
            pc = uc.reg_read(UC_ARM_REG_PC)
            raise ExecutorError(
                f"the emulated IF_curr_exp core stopped at 0x{pc:x} while running the routine at "
                f"0x{entry:x} ({error}); the binary took a path the emulator does not provide "
                "(an error report, recording or packet sending)"
            ) from None

    def reset(self) -> None:
        """Load the parameters again (the binary's loader: V = V_init, derived constants, I_syn),
        clear the ring buffer and the synapse counters."""
        self._call(self.layout.load_parameters, self.parameter_address, self.size, 0)
        self.uc.mem_write(self.ring_address, bytes(2 * self.ring_entries))
        for name in ("processed_synapses", "skipped_synapses", "saturation_count"):
            self.uc.mem_write(self.layout.synapse_anchor + self.layout.synapse_fields[name], bytes(4))

    def counter(self, name: str) -> int:
        """A synapse counter of the binary: ``saturation_count``, ``skipped_synapses``, ``processed_synapses``."""
        address = self.layout.synapse_anchor + self.layout.synapse_fields[name]
        return int(struct.unpack("<I", bytes(self.uc.mem_read(address, 4)))[0])

    def ring_buffer(self) -> np.ndarray:
        """The ring buffer, uint16 ``[D, 2, 2^A]`` (slot, synapse type, neuron)."""
        raw = np.frombuffer(bytes(self.uc.mem_read(self.ring_address, 2 * self.ring_entries)), "<u2")
        return raw.reshape(self.delay_slots, 2, self.peak).copy()

    def deliver(self, time: int, keys) -> None:
        """Process the synaptic rows ``keys`` (each at most once), in order, for spikes sent in tick
        ``time`` (colour ``time mod 16``): the binary's ``synapses_process_synaptic_row`` on each row,
        called from :data:`ROW_LOOP_WORDS` so that a tick's rows take one emulation run."""
        addresses = [self.row_addresses[key] for key in keys]
        if not addresses:
            return
        arguments = (time, time & COLOUR_MASK, COLOUR_MASK, self.write_back_address, self.layout.process_synaptic_row)
        self.uc.mem_write(ROW_ARGUMENTS, struct.pack(f"<{len(addresses) + 6}I", *arguments, *addresses, 0))
        self._run(ROW_LOOP, ROW_LOOP_END)

    def derived_constants(self) -> DerivedConstants:
        neurons = self.read_words(self.neuron_address, self.size * 8, signed=True).reshape(self.size, 8)
        synapses = self.read_words(self.synapse_address, self.size * 6, signed=False).reshape(self.size, 6)
        return DerivedConstants(
            neurons[:, 2], neurons[:, 3], neurons[:, 7], synapses[:, 0], synapses[:, 1], synapses[:, 3], synapses[:, 4]
        )

    def read_words(self, address: int, count: int, *, signed: bool) -> np.ndarray:
        raw = self.uc.mem_read(address, 4 * count)
        return np.frombuffer(bytes(raw), "<i4" if signed else "<u4").astype(np.int64)

    def step(self, time: int) -> StepResult:
        """One tick at step ``time``: transfer the tick's ring slot, then update the neurons."""
        uc = self.uc
        block = self.ring_address + 2 * ((time & (self.delay_slots - 1)) << (self.neuron_bits + 1))
        layout = self.layout
        arguments = (block, time, layout.neuron_transfer, layout.neuron_update, self.spike_address, self.spike_words)
        uc.mem_write(TICK_ARGUMENTS, struct.pack("<6I", *arguments))
        self._run(TICK_ROUTINE, TICK_END)
        bits = np.frombuffer(bytes(uc.mem_read(self.spike_address, 4 * self.spike_words)), "<u4")
        spikes = np.unpackbits(bits.view(np.uint8), bitorder="little")[: self.size].astype(bool)
        v = self.read_words(self.neuron_address, self.size * 8, signed=True)[::8]
        recorded = self.read_words(self.value_buffer_address, RECORDED_VALUES * self.size, signed=True)
        recorded = recorded.reshape(RECORDED_VALUES, self.size)
        return StepResult(spikes, v, recorded[0], recorded[1], recorded[2])

    def close(self) -> None:
        self.uc = None
